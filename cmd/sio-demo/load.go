package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// loadConfig is what the load tool runs, in either mode: one set of
// flags. A field a mode does not use stays out of its report.
type loadConfig struct {
	// Both modes.
	Compare    bool
	Duration   time.Duration // how long (url mode, 0: until SIGINT); the measured window of each load phase (compare)
	Dialers    int           // parallel connection set-ups
	AckTimeout time.Duration // an ack not back within this fails
	// Against a URL.
	URL       string
	Sessions  int
	Transport string  // polling, websocket, upgrade or mixed
	Rate      float64 // c2s-events per second per session
	// -compare.
	Warmup      time.Duration // load before each window
	Settle      time.Duration // idle wait before each memory reading
	Conns       int           // idle connections of the memory phase
	Clients     []int         // closed-loop echo clients, one ack phase each
	PClients    int           // closed-loop echo clients on polling alone; 0: no polling phase
	BClients    int           // broadcast receivers (one of them triggers)
	InFlight    int           // broadcasts not yet fully delivered, at most
	Payload     int           // bytes of the broadcast payload
	EchoPayload int           // bytes of the echo payload
	ForceGC     bool          // full collection before memory readings
	Only        string        // servers: a comma-separated subset of go, ref, plain
	GoMaxProcs  int           // GOMAXPROCS of the Go servers; 0: the runtime's default
	GoDebug     string        // GODEBUG of the Go servers; "": this process's
	GoBin       string        // another sio-demo binary to run as the go server; "": this one
	BaseBin     string        // a sio-demo binary to run as the base server (another build, for A/B)
	Rounds      int           // each server this many times, in turns; the medians are reported
	// Neither mode's figures depend on these: not in the report.
	JSON       bool
	Progress   string           // url mode: auto, on, off
	Verbose    bool             // compare: each phase on stderr
	Timeout    time.Duration    // compare: bound of the whole run
	RefServer  string           // compare: refserver.js
	Node       string           // compare: node binary
	ProfileDir string           // compare: Go server profiles, when set
	onConnect  func()           // tests: called after each session's connect
	onStart    func([]*session) // tests: the sessions, once made
}

func defaultLoadConfig() loadConfig {
	return loadConfig{
		Duration: 10 * time.Second, Dialers: 32, AckTimeout: 10 * time.Second,
		URL: "http://localhost:3000", Sessions: 10, Transport: "upgrade", Rate: 1, Progress: "auto",
		Warmup: time.Second, Settle: 3 * time.Second, Conns: 10_000, Clients: []int{1, 100}, PClients: 100,
		BClients: 1_000, InFlight: 4, Payload: 100, EchoPayload: 32, ForceGC: true, Only: "go,ref,plain", Rounds: 1,
	}
}

// quick is what -quick changes, where the flag is not given.
var quick = map[string]string{
	"duration": "2s", "warmup": "500ms", "settle": "1s", "conns": "1000", "clients": "1,100", "bclients": "200",
}

// The settings in JSON: those of both modes, then those of each.
type (
	sharedJSON struct {
		Compare    bool          `json:"compare"`
		Duration   time.Duration `json:"duration_ns"`
		Dialers    int           `json:"dialers"`
		AckTimeout time.Duration `json:"ack_timeout_ns"`
	}
	urlJSON struct {
		URL       string  `json:"url"`
		Sessions  int     `json:"sessions"`
		Transport string  `json:"transport"`
		Rate      float64 `json:"rate"`
	}
	compareJSON struct {
		Warmup      time.Duration `json:"warmup_ns"`
		Settle      time.Duration `json:"settle_ns"`
		Conns       int           `json:"conns"`
		Clients     []int         `json:"clients"`
		PClients    int           `json:"pclients"`
		BClients    int           `json:"bclients"`
		InFlight    int           `json:"inflight"`
		Payload     int           `json:"payload"`
		EchoPayload int           `json:"echo_payload"`
		ForceGC     bool          `json:"force_gc"`
		Only        string        `json:"only"`
		GoMaxProcs  int           `json:"go_maxprocs"`
		GoDebug     string        `json:"go_debug,omitempty"`
		GoBin       string        `json:"go_bin,omitempty"`
		BaseBin     string        `json:"base_bin,omitempty"`
		Rounds      int           `json:"rounds,omitempty"`
	}
)

// MarshalJSON writes the settings of the mode that ran.
func (c loadConfig) MarshalJSON() ([]byte, error) {
	s := sharedJSON{c.Compare, c.Duration, c.Dialers, c.AckTimeout}
	if !c.Compare {
		return json.Marshal(struct {
			sharedJSON
			urlJSON
		}{s, urlJSON{c.URL, c.Sessions, c.Transport, c.Rate}})
	}
	return json.Marshal(struct {
		sharedJSON
		compareJSON
	}{s, compareJSON{c.Warmup, c.Settle, c.Conns, c.Clients, c.PClients, c.BClients, c.InFlight, c.Payload, c.EchoPayload, c.ForceGC, c.Only, c.GoMaxProcs, c.GoDebug, c.GoBin, c.BaseBin, c.Rounds}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *loadConfig) UnmarshalJSON(b []byte) error {
	var v struct {
		sharedJSON
		urlJSON
		compareJSON
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s, u, k := v.sharedJSON, v.urlJSON, v.compareJSON
	*c = loadConfig{
		Compare: s.Compare, Duration: s.Duration, Dialers: s.Dialers, AckTimeout: s.AckTimeout,
		URL: u.URL, Sessions: u.Sessions, Transport: u.Transport, Rate: u.Rate,
		Warmup: k.Warmup, Settle: k.Settle, Conns: k.Conns, Clients: k.Clients, PClients: k.PClients, BClients: k.BClients,
		InFlight: k.InFlight, Payload: k.Payload, EchoPayload: k.EchoPayload, ForceGC: k.ForceGC,
		Only: k.Only, GoMaxProcs: k.GoMaxProcs, GoDebug: k.GoDebug, GoBin: k.GoBin, BaseBin: k.BaseBin, Rounds: k.Rounds,
	}
	return nil
}

// intList is a flag of comma-separated whole numbers.
type intList struct{ v *[]int }

func (l intList) String() string {
	if l.v == nil {
		return ""
	}
	s := make([]string, len(*l.v))
	for i, n := range *l.v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l intList) Set(s string) error {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("%q is not a list of whole numbers such as 1,100", s)
		}
		out = append(out, n)
	}
	*l.v = out
	return nil
}

// The load tool's flags, by the mode they serve.
const (
	flagsBoth    = "Both modes"
	flagsURL     = "Against a server at -url"
	flagsCompare = "-compare"
)

// loadFlags registers every flag of the load tool on fs and says which
// mode each one serves.
func loadFlags(fs *flag.FlagSet, cfg *loadConfig) (group map[string]string, quickOn *bool) {
	group = map[string]string{}
	on := func(g string, names ...string) {
		for _, n := range names {
			group[n] = g
		}
	}
	fs.BoolVar(&cfg.Compare, "compare", cfg.Compare, "start the servers of -only on 127.0.0.1 and measure them one after the other instead of a server at -url (what \"sio-demo bench\" runs)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "against -url: how long to run (0: until SIGINT); -compare: the measured window of each ack and broadcast phase")
	fs.IntVar(&cfg.Dialers, "dialers", cfg.Dialers, "parallel connection set-ups")
	fs.DurationVar(&cfg.AckTimeout, "ack-timeout", cfg.AckTimeout, "an ack not back within this fails (against -url it counts as failed; -compare ends the run)")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON (against -url with every session's figures)")
	fs.BoolVar(&cfg.Verbose, "v", false, "show progress on stderr (against -url: -progress on; -compare: each phase)")
	quickOn = fs.Bool("quick", false, "a short run to try the tool: -duration 2s; with -compare also -warmup 500ms -settle 1s -conns 1000 -clients 1,100 -bclients 200 (flags given win)")
	on(flagsBoth, "compare", "duration", "dialers", "ack-timeout", "json", "v", "quick")

	fs.StringVar(&cfg.URL, "url", cfg.URL, "server to connect to (http, https, ws or wss)")
	fs.IntVar(&cfg.Sessions, "sessions", cfg.Sessions, "parallel sessions, each its own connection")
	fs.StringVar(&cfg.Transport, "transport", cfg.Transport, "polling, websocket, upgrade (polling, then WebSocket) or mixed (sessions alternate polling and websocket)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "c2s-events per second per session, each with an ack; 0 sends none")
	fs.StringVar(&cfg.Progress, "progress", cfg.Progress, "live progress line on stderr: auto (when stderr is a terminal), on or off")
	on(flagsURL, "url", "sessions", "transport", "rate", "progress")

	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "load before each measured window")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "idle wait before each memory reading")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "idle WebSocket connections for the memory figure")
	fs.Var(intList{&cfg.Clients}, "clients", "closed-loop clients sending echo with an ack, each sending one at a time: a phase for each `list` entry")
	fs.IntVar(&cfg.PClients, "pclients", cfg.PClients, "clients on HTTP long-polling alone sending echo with an ack, one at a time each: a phase of its own; 0 skips it")
	fs.IntVar(&cfg.BClients, "bclients", cfg.BClients, "clients receiving the broadcasts (one of them triggers them)")
	fs.IntVar(&cfg.InFlight, "inflight", cfg.InFlight, "broadcasts in flight (not yet received by every client) at most")
	fs.IntVar(&cfg.Payload, "payload", cfg.Payload, "bytes of the broadcast payload")
	fs.IntVar(&cfg.EchoPayload, "echopayload", cfg.EchoPayload, "bytes of the echo payload")
	fs.BoolVar(&cfg.ForceGC, "forcegc", cfg.ForceGC, "ask each server for a full collection (GET /debug/gc) before each memory reading")
	fs.StringVar(&cfg.Only, "only", cfg.Only, "servers to measure, in this order, the first one against the others: go (sio), ref (the reference server, Node.js), plain (a WebSocket echo without Socket.IO, the ceiling), base (the go server of -basebin); \"both\" is go,ref")
	fs.DurationVar(&cfg.Timeout, "timeout", 0, "bound of the whole run (default: from the other flags)")
	fs.StringVar(&cfg.RefServer, "refserver", "", "path of testdata/refserver.js (default: found from the working directory)")
	fs.StringVar(&cfg.Node, "node", "", "node binary for the reference server (default: node on PATH)")
	fs.StringVar(&cfg.ProfileDir, "profile", "", "save the Go server's profiles (idle heap, CPU and allocations of each window) in `dir`; profiling perturbs the figures")
	fs.StringVar(&cfg.GoBin, "gobin", "", "another sio-demo `binary` whose serve subcommand is the go server (default: this one): to measure a build of other code with the same tool")
	fs.StringVar(&cfg.BaseBin, "basebin", "", "a sio-demo `binary` whose serve subcommand is the base server of -only: another build measured beside this one (A/B)")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "measure each server this many times, the servers in turns (each round starts one later), and report each figure's median; the advantages show their range over the rounds")
	fs.IntVar(&cfg.GoMaxProcs, "gomaxprocs", 0, "GOMAXPROCS of the Go servers, go and plain (default: the runtime's choice, one per core)")
	fs.StringVar(&cfg.GoDebug, "godebug", "", "GODEBUG of the Go servers, go and plain (default: this process's $GODEBUG); schedtrace=2147483647 keeps the runtime's monitor thread awake (see the README)")
	on(flagsCompare, "warmup", "settle", "conns", "clients", "pclients", "bclients", "inflight", "payload", "echopayload", "forcegc", "only", "timeout", "refserver", "node", "profile", "gomaxprocs", "godebug", "gobin", "basebin", "rounds")
	return group, quickOn
}

const loadHelp = `usage: %s [flags]

The load tool. It runs in one of two modes, with one set of flags, and
prints one report: a column per server and a row per figure, the same
figure under the same name and unit in both modes; a figure a mode cannot
measure is "—" (null with -json).

Against a server (the default of "sio-demo client"): -sessions Socket.IO
sessions on sio's Go client against the demo server at -url (any server
with the demo's events), over -transport. Each sends c2s-event at -rate
with an ack and counts the seq-num gaps, the s2c-event deliveries (missed
and duplicated, per sending worker) and its reconnections, which it makes
by itself. On a terminal a progress line shows sessions up, events per
second, gaps and reconnects. The report has one column, "server": it
cannot see that server's CPU or memory.

-compare (what "sio-demo bench" runs): starts each server of -only as a
process of its own on 127.0.0.1, one after the other, and measures it with
a lean WebSocket client: idle memory per connection, ack round trips
(a phase for each -clients entry) and broadcast deliveries, each against
the server's own CPU time from /proc. The report has a column per server
and the first one's advantage over each other one ("go vs ref", "go vs
plain").

The flags below are listed by the mode they serve; a flag of the other
mode is refused rather than ignored.
`

// loadUsage prints the help, the flags grouped by mode.
func loadUsage(w io.Writer, name string, fs *flag.FlagSet, group map[string]string) {
	fmt.Fprintf(w, loadHelp, name)
	for _, g := range []string{flagsBoth, flagsURL, flagsCompare} {
		fmt.Fprintf(w, "\n%s:\n", g)
		fs.VisitAll(func(f *flag.Flag) {
			if group[f.Name] != g {
				return
			}
			typ, usage := flag.UnquoteUsage(f)
			line := "  -" + f.Name
			if typ != "" {
				line += " " + typ
			}
			def := f.DefValue
			switch {
			case def == "" || def == "0" || def == "0s" || def == "false":
				def = ""
			case typ == "string":
				def = fmt.Sprintf(" (default %q)", def)
			default:
				def = " (default " + def + ")"
			}
			fmt.Fprintf(w, "%s\n    \t%s%s\n", line, strings.ReplaceAll(usage, "\n", "\n    \t"), def)
		})
	}
}

// clientMain is "sio-demo client": sessions against a server, or with
// -compare the bench, which starts the servers itself.
func clientMain(args []string, stdout, stderr io.Writer) int {
	return loadMain("sio-demo client", args, false, stdout, stderr)
}

// benchMain is "sio-demo bench", the same as "sio-demo client -compare".
func benchMain(args []string, stdout, stderr io.Writer) int {
	return loadMain("sio-demo bench", args, true, stdout, stderr)
}

// loadMain is the load tool: one set of flags, two modes, one report.
func loadMain(name string, args []string, compare bool, stdout, stderr io.Writer) int {
	cfg := defaultLoadConfig()
	cfg.Compare = compare
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	group, quickOn := loadFlags(fs, &cfg)
	fs.Usage = func() { loadUsage(stderr, name, fs, group) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", name, fs.Args())
		return 2
	}
	set := map[string]bool{}
	var wrong []string
	fs.Visit(func(f *flag.Flag) {
		set[f.Name] = true
		if g := group[f.Name]; g == flagsURL && cfg.Compare || g == flagsCompare && !cfg.Compare {
			wrong = append(wrong, "-"+f.Name)
		}
	})
	if len(wrong) > 0 {
		mode := "a run against -url (add -compare for the bench)"
		if cfg.Compare {
			mode = "-compare, which starts its own servers"
		}
		fmt.Fprintf(stderr, "%s: %s: not a flag of %s; see -h\n", name, strings.Join(wrong, ", "), mode)
		return 2
	}
	if *quickOn {
		for k, v := range quick {
			if !set[k] && (cfg.Compare || k == "duration") {
				if err := fs.Set(k, v); err != nil {
					panic(err)
				}
			}
		}
	}
	if cfg.Only == "both" {
		cfg.Only = "go,ref"
	}
	if cfg.Verbose && cfg.Progress == "auto" {
		cfg.Progress = "on"
	}
	var rep *report
	var err error
	if cfg.Compare {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		rep, err = runBench(ctx, cfg, stderr)
	} else {
		var progress io.Writer
		switch cfg.Progress {
		case "on":
			progress = stderr
		case "auto":
			if f, ok := stderr.(*os.File); ok && isTerminal(f) {
				progress = stderr
			}
		case "off":
		default:
			fmt.Fprintf(stderr, "%s: -progress must be auto, on or off\n", name)
			return 2
		}
		ctx, _, stop := signalContext()
		defer stop()
		rep, err = runClients(ctx, cfg, progress)
	}
	if rep != nil {
		rep.Tool = name
		if cfg.Compare && !compare {
			rep.Tool += " -compare"
		}
		if cfg.JSON {
			if werr := rep.writeJSON(stdout); werr != nil {
				fmt.Fprintln(stderr, name+":", werr)
				return 1
			}
		} else {
			rep.writeText(stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 1
	}
	return 0
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
