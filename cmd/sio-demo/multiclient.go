package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/transport"
)

// clientConfig is what "sio-demo client" runs.
type clientConfig struct {
	URL        string           `json:"url"`
	Sessions   int              `json:"sessions"`
	Transport  string           `json:"transport"` // polling, websocket, upgrade or mixed
	Rate       float64          `json:"rate"`      // c2s-events per second per session
	Duration   time.Duration    `json:"duration_ns"`
	Dialers    int              `json:"dialers"`
	AckTimeout time.Duration    `json:"ack_timeout_ns"`
	JSON       bool             `json:"-"`
	Progress   string           `json:"-"` // auto, on, off
	onConnect  func()           // tests: called after each session's connect
	onStart    func([]*session) // tests: the sessions, once made
}

func defaultClientConfig() clientConfig {
	return clientConfig{
		URL: "http://localhost:3000", Sessions: 10, Transport: "upgrade", Rate: 1,
		Duration: 10 * time.Second, Dialers: 32, AckTimeout: 10 * time.Second, Progress: "auto",
	}
}

// The limits keep a run within a machine's file descriptors and a
// server's patience.
const (
	maxSessions = 20_000
	maxRate     = 1_000
	maxLatency  = 100_000 // samples kept per session
)

// clientMain is "sio-demo client": sessions against a server, or with
// -compare the bench, which starts both servers itself.
func clientMain(args []string, stdout, stderr io.Writer) int {
	return loadMain("sio-demo client", args, false, stdout, stderr)
}

// benchMain is "sio-demo bench", the same as "sio-demo client -compare".
func benchMain(args []string, stdout, stderr io.Writer) int {
	return loadMain("sio-demo bench", args, true, stdout, stderr)
}

// loadMain is the load tool: one set of flags for its two modes.
func loadMain(name string, args []string, compare bool, stdout, stderr io.Writer) int {
	cfg := defaultClientConfig()
	bcfg := defaultBenchConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Shared by both modes.
	fs.BoolVar(&compare, "compare", compare, "start the bench server and the reference server on 127.0.0.1, one after the other, and compare them: idle memory per WebSocket connection, ack round trips, broadcast deliveries (what \"sio-demo bench\" runs)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to run (0: until SIGINT); with -compare, the measured window of the ack and broadcast phases")
	fs.IntVar(&cfg.Dialers, "dialers", cfg.Dialers, "parallel connection set-ups")
	fs.BoolVar(&cfg.JSON, "json", false, "print the results as JSON (with every session's figures)")
	verbose := fs.Bool("v", false, "show progress on stderr (-progress on; with -compare, each phase)")
	// Against a server.
	fs.StringVar(&cfg.URL, "url", cfg.URL, "server to connect to (http, https, ws or wss)")
	fs.IntVar(&cfg.Sessions, "sessions", cfg.Sessions, "parallel sessions, each its own connection")
	fs.StringVar(&cfg.Transport, "transport", cfg.Transport, "polling, websocket, upgrade (polling, then WebSocket) or mixed (sessions alternate polling and websocket)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "c2s-events per second per session, each with an ack; 0 sends none")
	fs.DurationVar(&cfg.AckTimeout, "ack-timeout", cfg.AckTimeout, "an ack not back within this counts as failed")
	fs.StringVar(&cfg.Progress, "progress", cfg.Progress, "live progress line on stderr: auto (when stderr is a terminal), on or off")
	addBenchFlags(fs, &bcfg)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: %s [flags]

The load tool, in two modes with one set of flags.

Against a server (the default of "sio-demo client"): opens -sessions
Socket.IO sessions on sio's Go client against the demo server at -url,
sends c2s-event at -rate with an ack, and counts per session the seq-num
gaps, the s2c-event deliveries (missed and duplicated, per sending
worker), and the reconnections, which the client makes by itself. On a
terminal a progress line shows sessions up, events per second, gaps and
reconnects; at the end a summary gives the ack latency (p50, p99).

-compare (what "sio-demo bench" runs): starts the bench server and the
reference server as processes of their own on 127.0.0.1 and measures both
with a lean WebSocket client: idle memory per connection, ack round trips,
broadcast deliveries; the table gives sio's advantage for each.

flags:
`, name)
		fs.PrintDefaults()
	}
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
	if *verbose && cfg.Progress == "auto" {
		cfg.Progress = "on"
	}
	if compare {
		bcfg.Duration, bcfg.Dialers, bcfg.JSON, bcfg.Verbose = cfg.Duration, cfg.Dialers, cfg.JSON, *verbose
		return compareMain(name, bcfg, stdout, stderr)
	}
	ctx, _, stop := signalContext()
	defer stop()
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
	rep, err := runClients(ctx, cfg, progress)
	if rep != nil {
		if cfg.JSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(rep); err != nil {
				fmt.Fprintln(stderr, name+":", err)
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

func (cfg *clientConfig) check() error {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-url %q is not a URL such as http://localhost:3000", cfg.URL)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return fmt.Errorf("-url %q: the scheme must be http, https, ws or wss", cfg.URL)
	}
	switch cfg.Transport {
	case "polling", "websocket", "upgrade", "mixed":
	default:
		return fmt.Errorf("-transport must be polling, websocket, upgrade or mixed, not %q", cfg.Transport)
	}
	if cfg.Sessions < 1 || cfg.Sessions > maxSessions {
		return fmt.Errorf("-sessions must be between 1 and %d", maxSessions)
	}
	if cfg.Rate < 0 || cfg.Rate > maxRate {
		return fmt.Errorf("-rate must be between 0 and %d", maxRate)
	}
	if cfg.Dialers < 1 || cfg.Dialers > 512 {
		return errors.New("-dialers must be between 1 and 512")
	}
	if cfg.Duration < 0 || cfg.AckTimeout <= 0 {
		return errors.New("-duration must not be negative, -ack-timeout must be positive")
	}
	return nil
}

// originStat is what one session received of one worker's broadcasts.
type originStat struct {
	First    int64 `json:"first"`
	Last     int64 `json:"last"`
	Received int64 `json:"received"`
	Missed   int64 `json:"missed"`     // numbers skipped while connected
	Dups     int64 `json:"duplicates"` // numbers received twice
	resync   bool  // reconnected since the last one: a jump is no miss
	seen     map[int64]struct{}
}

// sessionStats are one session's figures.
type sessionStats struct {
	Index       int                    `json:"index"`
	Transport   string                 `json:"transport"` // at the end
	Up          bool                   `json:"up"`
	Worker      int                    `json:"worker"` // that answered last
	Node        string                 `json:"node"`
	Connects    int64                  `json:"connects"`
	Disconnects int64                  `json:"disconnects"`
	SeqReceived int64                  `json:"seq_received"`
	SeqGaps     int64                  `json:"seq_gaps"`      // numbers skipped
	SeqDisorder int64                  `json:"seq_disorder"`  // a number at or below the last
	S2C         map[string]*originStat `json:"s2c_by_origin"` // by sending worker
	Sent        int64                  `json:"c2s_sent"`
	Acked       int64                  `json:"acked"`
	AckFailed   int64                  `json:"ack_failed"`
	lat         []time.Duration
}

// session is one client connection and its counters.
type session struct {
	idx    int
	c      *transport.Client
	s      *transport.ClientSocket
	mu     sync.Mutex
	st     sessionStats
	seq    int64 // last seq-num of this connection
	up     atomic.Bool
	totals *totals

	onConnected func() // may be nil
}

// totals feed the progress line.
type totals struct {
	up, received, gaps, reconnects, acked atomic.Int64
}

func newSession(idx int, cfg clientConfig, tt *totals) (*session, error) {
	ts := []string{"polling", "websocket"}
	switch cfg.Transport {
	case "polling":
		ts = []string{"polling"}
	case "websocket":
		ts = []string{"websocket"}
	case "mixed":
		if idx%2 == 1 {
			ts = []string{"websocket"}
		} else {
			ts = []string{"polling"}
		}
	}
	c, err := transport.NewClient(cfg.URL, &transport.ClientOptions{
		Transports:           ts,
		ReconnectionDelay:    200 * time.Millisecond,
		ReconnectionDelayMax: 2 * time.Second,
		AckTimeout:           cfg.AckTimeout,
	})
	if err != nil {
		return nil, err
	}
	ss := &session{idx: idx, c: c, totals: tt, onConnected: cfg.onConnect}
	ss.st = sessionStats{Index: idx, S2C: map[string]*originStat{}}
	ss.s = c.Socket("/", nil)
	ss.s.OnConnect(ss.onConnect)
	ss.s.OnDisconnect(ss.onDisconnect)
	ss.s.On(evWelcome, ss.onWelcome)
	ss.s.On(evSeqNum, ss.onSeq)
	ss.s.On(evS2C, ss.onS2C)
	return ss, nil
}

func (ss *session) onConnect() {
	ss.mu.Lock()
	ss.st.Connects++
	if ss.st.Connects > 1 {
		ss.totals.reconnects.Add(1)
	}
	ss.seq = 0
	for _, o := range ss.st.S2C {
		o.resync = true
	}
	ss.mu.Unlock()
	ss.up.Store(true)
	ss.totals.up.Add(1)
	if ss.onConnected != nil {
		ss.onConnected()
	}
}

func (ss *session) onDisconnect(string) {
	if ss.up.Swap(false) {
		ss.totals.up.Add(-1)
	}
	ss.mu.Lock()
	ss.st.Disconnects++
	ss.mu.Unlock()
}

func (ss *session) onWelcome(e *transport.ClientEvent) {
	var w welcome
	if e.Bind(&w) != nil {
		return
	}
	ss.mu.Lock()
	ss.st.Worker, ss.st.Node = w.Worker, w.Node
	ss.mu.Unlock()
}

func (ss *session) onSeq(e *transport.ClientEvent) {
	var n int64
	if e.Bind(&n) != nil {
		return
	}
	ss.totals.received.Add(1)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.st.SeqReceived++
	switch {
	case n <= ss.seq:
		ss.st.SeqDisorder++
	case n > ss.seq+1:
		ss.st.SeqGaps += n - ss.seq - 1
		ss.totals.gaps.Add(n - ss.seq - 1)
	}
	ss.seq = max(ss.seq, n)
}

// maxOrigins bounds the workers a session keeps figures for.
const maxOrigins = 1024

func (ss *session) onS2C(e *transport.ClientEvent) {
	var ev s2cEvent
	if e.Bind(&ev) != nil || ev.From == "" {
		return
	}
	ss.totals.received.Add(1)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	o := ss.st.S2C[ev.From]
	if o == nil {
		if len(ss.st.S2C) >= maxOrigins {
			return
		}
		o = &originStat{First: ev.N, Last: ev.N - 1, seen: map[int64]struct{}{}}
		ss.st.S2C[ev.From] = o
	}
	o.Received++
	if _, dup := o.seen[ev.N]; dup {
		o.Dups++
		return
	}
	o.seen[ev.N] = struct{}{}
	if ev.N > o.Last+1 && !o.resync {
		o.Missed += ev.N - o.Last - 1
		ss.totals.gaps.Add(ev.N - o.Last - 1)
	}
	o.resync = false
	o.Last = max(o.Last, ev.N)
}

// snapshot is the session's figures now (without latency samples).
func (ss *session) snapshot() sessionStats {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	st := ss.st
	st.lat = nil
	st.Transport = ss.c.Transport()
	st.Up = ss.up.Load()
	st.S2C = make(map[string]*originStat, len(ss.st.S2C))
	for k, o := range ss.st.S2C {
		c := *o
		c.seen = nil
		st.S2C[k] = &c
	}
	return st
}

// sendLoop sends c2s-event at rate while the session is up.
func (ss *session) sendLoop(ctx context.Context, rate float64) {
	if rate <= 0 {
		return
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !ss.up.Load() {
			continue
		}
		start := time.Now()
		ss.mu.Lock()
		ss.st.Sent++
		n := ss.st.Sent
		ss.mu.Unlock()
		err := ss.s.EmitAck(evC2S, func(_ core.Args, err error) {
			d := time.Since(start)
			ss.mu.Lock()
			defer ss.mu.Unlock()
			if err != nil {
				ss.st.AckFailed++
				return
			}
			ss.st.Acked++
			ss.totals.acked.Add(1)
			if len(ss.st.lat) < maxLatency {
				ss.st.lat = append(ss.st.lat, d)
			}
		}, map[string]any{"session": ss.idx, "n": n})
		if err != nil {
			ss.mu.Lock()
			ss.st.AckFailed++
			ss.mu.Unlock()
		}
	}
}

// clientReport is the outcome of a run.
type clientReport struct {
	Config      clientConfig   `json:"config"`
	Seconds     float64        `json:"seconds"`
	Sessions    int            `json:"sessions"`
	UpAtEnd     int            `json:"up_at_end"`
	NeverUp     int            `json:"never_up"`
	Connects    int64          `json:"connects"`
	Reconnects  int64          `json:"reconnects"`
	SeqReceived int64          `json:"seq_received"`
	SeqGaps     int64          `json:"seq_gaps"`
	SeqDisorder int64          `json:"seq_disorder"`
	S2CReceived int64          `json:"s2c_received"`
	S2CMissed   int64          `json:"s2c_missed"`
	S2CDups     int64          `json:"s2c_duplicates"`
	S2COrigins  int            `json:"s2c_origins"`
	Sent        int64          `json:"c2s_sent"`
	Acked       int64          `json:"acked"`
	AckFailed   int64          `json:"ack_failed"`
	AckP50ms    float64        `json:"ack_p50_ms"`
	AckP99ms    float64        `json:"ack_p99_ms"`
	AckMaxms    float64        `json:"ack_max_ms"`
	ByWorker    map[string]int `json:"sessions_by_worker"` // at the end
	PerSession  []sessionStats `json:"per_session"`
}

// runClients runs the sessions for cfg.Duration (or until ctx ends) and
// reports; progress, when not nil, gets a live line.
func runClients(ctx context.Context, cfg clientConfig, progress io.Writer) (*clientReport, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	tt := &totals{}
	sessions := make([]*session, cfg.Sessions)
	for i := range sessions {
		s, err := newSession(i, cfg, tt)
		if err != nil {
			for _, s := range sessions[:i] {
				_ = s.c.Close()
			}
			return nil, err
		}
		sessions[i] = s
	}
	if cfg.onStart != nil {
		cfg.onStart(sessions)
	}
	start := time.Now()
	stopProgress := startProgress(progress, cfg, tt, start)
	// Dial in parallel, -dialers at a time; a session whose first attempt
	// fails goes on retrying by itself.
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.Dialers)
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-runCtx.Done():
				return
			}
			cctx, cancel := context.WithTimeout(runCtx, 20*time.Second)
			_ = s.s.Connect(cctx)
			cancel()
			<-sem
			s.sendLoop(runCtx, cfg.Rate)
		}()
	}
	<-runCtx.Done()
	wg.Wait()
	elapsed := time.Since(start)
	// The figures are taken before the sessions close, so that closing
	// is not counted as disconnects.
	rep := &clientReport{Config: cfg, Seconds: elapsed.Seconds(), Sessions: cfg.Sessions, ByWorker: map[string]int{}}
	for _, s := range sessions {
		s.mu.Lock()
		st := s.st
		st.Up = s.up.Load()
		st.Transport = s.c.Transport()
		st.lat = slices.Clone(st.lat)
		origins := make(map[string]*originStat, len(st.S2C))
		for k, o := range st.S2C {
			c := *o
			c.seen = nil
			origins[k] = &c
		}
		st.S2C = origins
		s.mu.Unlock()
		rep.PerSession = append(rep.PerSession, st)
	}
	stopProgress()
	var cwg sync.WaitGroup
	for _, s := range sessions {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			_ = s.c.Close()
		}()
	}
	cwg.Wait()
	rep.build()
	if rep.Connects == 0 {
		return rep, fmt.Errorf("no session connected to %s", cfg.URL)
	}
	return rep, nil
}

func (r *clientReport) build() {
	var lat []time.Duration
	origins := map[string]bool{}
	for i := range r.PerSession {
		st := &r.PerSession[i]
		if st.Up {
			r.UpAtEnd++
			r.ByWorker[st.Node]++
		}
		if st.Connects == 0 {
			r.NeverUp++
		}
		r.Connects += st.Connects
		r.Reconnects += max(st.Connects-1, 0)
		r.SeqReceived += st.SeqReceived
		r.SeqGaps += st.SeqGaps
		r.SeqDisorder += st.SeqDisorder
		for k, o := range st.S2C {
			origins[k] = true
			r.S2CReceived += o.Received
			r.S2CMissed += o.Missed
			r.S2CDups += o.Dups
		}
		r.Sent += st.Sent
		r.Acked += st.Acked
		r.AckFailed += st.AckFailed
		lat = append(lat, st.lat...)
	}
	r.S2COrigins = len(origins)
	if len(lat) > 0 {
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		r.AckP50ms = ms(lat[len(lat)*50/100])
		r.AckP99ms = ms(lat[min(len(lat)*99/100, len(lat)-1)])
		r.AckMaxms = ms(lat[len(lat)-1])
	}
}

func (r *clientReport) writeText(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "sio-demo client: %d sessions, %s, to %s for %.1fs\n", r.Sessions, c.Transport, c.URL, r.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  sessions up at the end\t%d of %d\t(connects %d, reconnects %d, never up %d)\n", r.UpAtEnd, r.Sessions, r.Connects, r.Reconnects, r.NeverUp)
	fmt.Fprintf(tw, "  seq-num received\t%d\t(gaps %d, out of order %d)\n", r.SeqReceived, r.SeqGaps, r.SeqDisorder)
	fmt.Fprintf(tw, "  s2c-event received\t%d\t(missed %d, duplicates %d; from %d workers)\n", r.S2CReceived, r.S2CMissed, r.S2CDups, r.S2COrigins)
	fmt.Fprintf(tw, "  c2s-event sent\t%d\t(acked %d, failed %d)\n", r.Sent, r.Acked, r.AckFailed)
	if r.Acked > 0 {
		fmt.Fprintf(tw, "  ack latency\tp50 %.2f ms\tp99 %.2f ms, max %.2f ms\n", r.AckP50ms, r.AckP99ms, r.AckMaxms)
	}
	tw.Flush()
	if len(r.ByWorker) > 0 {
		var parts []string
		for _, k := range sortedKeys(r.ByWorker) {
			parts = append(parts, fmt.Sprintf("%s: %d", k, r.ByWorker[k]))
		}
		fmt.Fprintf(w, "  sessions by worker at the end: %s\n", strings.Join(parts, ", "))
	}
}

// startProgress prints a progress line to w every half second until
// stopped; w nil prints nothing.
func startProgress(w io.Writer, cfg clientConfig, tt *totals, start time.Time) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		// The rate is over the last two seconds: the server's events come
		// in bursts, one per interval.
		type sample struct {
			n int64
			t time.Time
		}
		window := []sample{{0, start}}
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\x1b[K")
				return
			case now := <-t.C:
				n := tt.received.Load()
				window = append(window, sample{n, now})
				if len(window) > 5 {
					window = window[1:]
				}
				rate := float64(n-window[0].n) / now.Sub(window[0].t).Seconds()
				fmt.Fprintf(w, "\r\x1b[K%5.1fs  sessions up %d/%d  events in %.0f/s  acks %d  gaps %d  reconnects %d",
					now.Sub(start).Seconds(), tt.up.Load(), cfg.Sessions, rate, tt.acked.Load(), tt.gaps.Load(), tt.reconnects.Load())
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
