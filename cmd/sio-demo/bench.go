package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// benchConfig is what one bench run measures.
type benchConfig struct {
	Duration    time.Duration `json:"duration_ns"`  // measured window of each load phase
	Warmup      time.Duration `json:"warmup_ns"`    // load before each window
	Settle      time.Duration `json:"settle_ns"`    // idle wait before each memory reading
	Conns       int           `json:"conns"`        // idle connections of the memory phase
	Clients     int           `json:"clients"`      // closed-loop echo clients
	BClients    int           `json:"bclients"`     // broadcast receivers (one of them triggers)
	InFlight    int           `json:"inflight"`     // broadcasts not yet fully delivered, at most
	Payload     int           `json:"payload"`      // bytes of the broadcast payload
	EchoPayload int           `json:"echo_payload"` // bytes of the echo payload
	Dialers     int           `json:"dialers"`      // parallel connection set-ups
	ForceGC     bool          `json:"force_gc"`     // full collection before memory readings
	Only        string        `json:"only"`         // go, ref or both
	JSON        bool          `json:"-"`
	Timeout     time.Duration `json:"-"` // bound of the whole run
	RefServer   string        `json:"-"` // refserver.js
	Node        string        `json:"-"` // node binary
	ProfileDir  string        `json:"-"` // Go server profiles, when set
	Verbose     bool          `json:"-"`
	GoMaxProcs  int           `json:"go_maxprocs,omitempty"` // GOMAXPROCS of the Go server; 0: the runtime's default
}

func defaultBenchConfig() benchConfig {
	return benchConfig{
		Duration:    10 * time.Second,
		Warmup:      time.Second,
		Settle:      3 * time.Second,
		Conns:       10_000,
		Clients:     100,
		BClients:    1_000,
		InFlight:    4,
		Payload:     100,
		EchoPayload: 32,
		Dialers:     32,
		ForceGC:     true,
		Only:        "both",
	}
}

// addBenchFlags registers the flags of the side-by-side run (-compare)
// that the client mode does not share.
func addBenchFlags(fs *flag.FlagSet, cfg *benchConfig) {
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "-compare: load before each measured window")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "-compare: idle wait before each memory reading")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "-compare: idle WebSocket connections for the memory figure")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "-compare: closed-loop clients sending echo with an ack")
	fs.IntVar(&cfg.BClients, "bclients", cfg.BClients, "-compare: clients receiving the broadcasts (one of them triggers them)")
	fs.IntVar(&cfg.InFlight, "inflight", cfg.InFlight, "-compare: broadcasts in flight (not yet received by every client) at most")
	fs.IntVar(&cfg.Payload, "payload", cfg.Payload, "-compare: bytes of the broadcast payload")
	fs.IntVar(&cfg.EchoPayload, "echopayload", cfg.EchoPayload, "-compare: bytes of the echo payload")
	fs.BoolVar(&cfg.ForceGC, "forcegc", cfg.ForceGC, "-compare: ask both servers for a full collection (GET /debug/gc) before each memory reading")
	fs.StringVar(&cfg.Only, "only", cfg.Only, "-compare: servers to measure: go, ref or both")
	fs.DurationVar(&cfg.Timeout, "timeout", 0, "-compare: bound of the whole run (default: from the other flags)")
	fs.StringVar(&cfg.RefServer, "refserver", "", "-compare: path of testdata/refserver.js (default: found from the working directory)")
	fs.StringVar(&cfg.Node, "node", "", "-compare: node binary for the reference server (default: node on PATH)")
	fs.StringVar(&cfg.ProfileDir, "profile", "", "-compare: save Go server profiles (idle heap, CPU and allocations of each window) in `dir`; profiling perturbs the figures")
	fs.IntVar(&cfg.GoMaxProcs, "gomaxprocs", 0, "-compare: GOMAXPROCS of the Go server (default: the runtime's choice, one per core)")
}

// compareMain runs the bench: both servers side by side.
func compareMain(name string, cfg benchConfig, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := runBench(ctx, cfg, stderr)
	if rep != nil {
		if cfg.JSON {
			if err := rep.writeJSON(stdout); err != nil {
				fmt.Fprintln(stderr, name+":", err)
				return 1
			}
		} else {
			rep.writeTable(stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 1
	}
	return 0
}

// check validates the configuration and fills in what it derives.
func (cfg *benchConfig) check() error {
	switch cfg.Only {
	case "go", "ref", "both":
	default:
		return fmt.Errorf("-only must be go, ref or both, not %q", cfg.Only)
	}
	// Bounded in count: these limits keep a run within the machine's
	// file descriptors and the loopback's ephemeral ports.
	for _, c := range []struct {
		name   string
		v, max int
	}{
		{"-conns", cfg.Conns, 25_000}, {"-clients", cfg.Clients, 10_000},
		{"-bclients", cfg.BClients, 20_000}, {"-inflight", cfg.InFlight, 1_000},
		{"-payload", cfg.Payload, 16 << 10}, {"-echopayload", cfg.EchoPayload, 16 << 10},
		{"-dialers", cfg.Dialers, 512},
	} {
		if c.v < 1 || c.v > c.max {
			return fmt.Errorf("%s must be between 1 and %d", c.name, c.max)
		}
	}
	if cfg.Duration <= 0 || cfg.Duration > time.Hour {
		return errors.New("-duration must be positive and at most 1h")
	}
	if cfg.Warmup < 0 || cfg.Settle < 0 {
		return errors.New("-warmup and -settle must not be negative")
	}
	need := max(cfg.Conns, cfg.Clients, cfg.BClients) + 256
	if lim, err := openFileLimit(); err == nil && uint64(need) > lim {
		return fmt.Errorf("%d connections need about %d file descriptors, the limit is %d (ulimit -n)", max(cfg.Conns, cfg.Clients, cfg.BClients), need, lim)
	}
	if cfg.Timeout <= 0 {
		// Per server: start, warm-up, the memory phase (dials and four
		// settle waits), two load phases, the shutdown; then a margin.
		per := 30*time.Second + 4*cfg.Settle + time.Duration(cfg.Conns)*5*time.Millisecond +
			2*(cfg.Warmup+cfg.Duration+30*time.Second) + 30*time.Second
		cfg.Timeout = 2*per + time.Minute
	}
	return nil
}

func openFileLimit() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	return r.Cur, nil
}

// runBench measures the servers cfg.Only selects, one after the other.
func runBench(ctx context.Context, cfg benchConfig, log io.Writer) (*report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	b := &bench{cfg: cfg, log: log}
	rep := &report{Config: cfg}
	var script, node string
	if cfg.Only != "go" {
		var err error
		if script, err = findRefServer(cfg.RefServer); err != nil {
			return nil, err
		}
		if _, err := os.Stat(refModules(script)); err != nil {
			return nil, fmt.Errorf("the reference server is not installed (%v): run npm ci in httpadapter/testdata/node", err)
		}
		node = cfg.Node
		if node == "" {
			if node, err = exec.LookPath("node"); err != nil {
				return nil, errors.New("node is not on PATH (needed for the reference server; -only go skips it)")
			}
		}
	}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return nil, err
		}
	}
	var errs []error
	if cfg.Only != "ref" {
		r, err := b.measure(ctx, "go", func() (*serverProc, error) {
			return startGoServer(ctx, cfg.GoMaxProcs, log)
		})
		rep.Go = r
		if err != nil {
			errs = append(errs, fmt.Errorf("go server: %w", err))
		}
	}
	if cfg.Only != "go" && ctx.Err() == nil {
		r, err := b.measure(ctx, "ref", func() (*serverProc, error) {
			return startRefServer(ctx, node, script, log)
		})
		rep.Ref = r
		if err != nil {
			errs = append(errs, fmt.Errorf("reference server: %w", err))
		}
	}
	rep.build()
	return rep, errors.Join(errs...)
}

type bench struct {
	cfg benchConfig
	log io.Writer
}

func (b *bench) logf(format string, args ...any) {
	if b.cfg.Verbose {
		fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
	}
}

// serverResult holds the figures of one server.
type serverResult struct {
	Server string       `json:"server"`
	Idle   *idleResult  `json:"idle,omitempty"`
	Ack    *ackResult   `json:"ack,omitempty"`
	Bcast  *bcastResult `json:"broadcast,omitempty"`
	Error  string       `json:"error,omitempty"`
}

type idleResult struct {
	Conns          int     `json:"conns"`
	ConnectSeconds float64 `json:"connect_seconds"`
	// After a full collection (when ForceGC) and the settle wait.
	RSSBefore    int64   `json:"rss_before_bytes"`
	RSSAfter     int64   `json:"rss_after_bytes"`
	BytesPerConn float64 `json:"bytes_per_conn"`
	Forced       bool    `json:"forced_gc"`
	// After the settle wait alone.
	RSSBeforeSettled    int64   `json:"rss_before_settled_bytes"`
	RSSAfterSettled     int64   `json:"rss_after_settled_bytes"`
	BytesPerConnSettled float64 `json:"bytes_per_conn_settled"`
}

type ackResult struct {
	Clients      int     `json:"clients"`
	Seconds      float64 `json:"seconds"`
	RoundTrips   int64   `json:"round_trips"`
	PerSecond    float64 `json:"round_trips_per_second"`
	P50Micros    float64 `json:"p50_us"`
	P99Micros    float64 `json:"p99_us"`
	ServerCPU    float64 `json:"server_cpu_seconds"`
	PerCPUSecond float64 `json:"round_trips_per_server_cpu_second"`
	LoadCPU      float64 `json:"load_generator_cpu_seconds"`
	OtherCPU     float64 `json:"other_cpu_seconds"`
	ServerReads  float64 `json:"server_read_syscalls_per_round_trip"`
	ServerWrites float64 `json:"server_write_syscalls_per_round_trip"`
	P90Micros    float64 `json:"p90_us"`
	P999Micros   float64 `json:"p999_us"`
	MaxMicros    float64 `json:"max_us"`
}

type bcastResult struct {
	Clients      int     `json:"clients"`
	InFlight     int     `json:"inflight"`
	Seconds      float64 `json:"seconds"`
	Broadcasts   int64   `json:"broadcasts"`
	Deliveries   int64   `json:"deliveries"`
	PerSecond    float64 `json:"deliveries_per_second"`
	FanoutP50ms  float64 `json:"fanout_p50_ms"`
	FanoutP99ms  float64 `json:"fanout_p99_ms"`
	ServerCPU    float64 `json:"server_cpu_seconds"`
	PerCPUSecond float64 `json:"deliveries_per_server_cpu_second"`
	LoadCPU      float64 `json:"load_generator_cpu_seconds"`
	OtherCPU     float64 `json:"other_cpu_seconds"`
	ServerWrites float64 `json:"server_write_syscalls_per_delivery"`
}

// measure starts one server and runs the three phases against it.
func (b *bench) measure(ctx context.Context, name string, start func() (*serverProc, error)) (*serverResult, error) {
	res := &serverResult{Server: name}
	b.logf("%s: starting the server", name)
	p, err := start()
	if err != nil {
		res.Error = err.Error()
		return res, err
	}
	defer p.stop()
	b.logf("%s: pid %d on %s", name, p.pid, p.addr)
	fail := func(phase string, err error) (*serverResult, error) {
		if aerr := p.alive(); aerr != nil {
			err = fmt.Errorf("%w (%v)", err, aerr)
		}
		err = fmt.Errorf("%s: %w", phase, err)
		res.Error = err.Error()
		return res, err
	}
	if err := b.warmup(ctx, p); err != nil {
		return fail("warm-up", err)
	}
	if res.Idle, err = b.idlePhase(ctx, p); err != nil {
		return fail("idle memory", err)
	}
	if res.Ack, err = b.ackPhase(ctx, p); err != nil {
		return fail("ack round trips", err)
	}
	if res.Bcast, err = b.bcastPhase(ctx, p); err != nil {
		return fail("broadcast", err)
	}
	return res, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// warmup exercises every code path of the server once so that what it
// allocates for good (code, pools, caches) is in the baseline: a few
// clients connect, echo, broadcast, and leave.
func (b *bench) warmup(ctx context.Context, p *serverProc) error {
	n := min(100, max(b.cfg.Conns, b.cfg.Clients, b.cfg.BClients))
	h := newHub(n, 1)
	cs, err := dialAll(ctx, p.addr, n, b.cfg.Dialers, h)
	if err != nil {
		return err
	}
	defer closeAll(cs)
	defer abortOnDone(ctx, cs)()
	payload := strings.Repeat("w", b.cfg.EchoPayload)
	var wg sync.WaitGroup
	errc := make(chan error, len(cs))
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := newEchoer(c, payload)
			for range 20 {
				if err := e.roundTrip(ctx, 10*time.Second); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	msg := []byte{}
	for seq := range 20 {
		msg = appendBcast(msg[:0], int64(seq), payload)
		h.slots[0].Store(0)
		if err := cs[0].send(msg); err != nil {
			return err
		}
		select {
		case <-h.complete:
		case <-time.After(10 * time.Second):
			return errors.New("a warm-up broadcast did not reach every client within 10s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// appendBcast appends 42["bcast",<seq>,"<payload>"].
func appendBcast(m []byte, seq int64, payload string) []byte {
	m = append(m, `42["bcast",`...)
	m = strconv.AppendInt(m, seq, 10)
	m = append(m, `,"`...)
	m = append(m, payload...)
	return append(m, `"]`...)
}

// memoryReading waits for the server to settle and reads its RSS, then,
// when asked, forces a full collection, waits again and reads it again.
func (b *bench) memoryReading(ctx context.Context, p *serverProc) (settled, forced int64, err error) {
	if err := sleep(ctx, b.cfg.Settle); err != nil {
		return 0, 0, err
	}
	if settled, err = rssBytes(p.pid); err != nil {
		return 0, 0, err
	}
	if !b.cfg.ForceGC {
		return settled, settled, nil
	}
	if err := p.forceGC(ctx); err != nil {
		return 0, 0, err
	}
	if err := sleep(ctx, b.cfg.Settle); err != nil {
		return 0, 0, err
	}
	forced, err = rssBytes(p.pid)
	return settled, forced, err
}

// idlePhase: RSS with N idle connections minus RSS with none, over N.
func (b *bench) idlePhase(ctx context.Context, p *serverProc) (*idleResult, error) {
	r := &idleResult{Conns: b.cfg.Conns, Forced: b.cfg.ForceGC}
	var err error
	if r.RSSBeforeSettled, r.RSSBefore, err = b.memoryReading(ctx, p); err != nil {
		return nil, err
	}
	b.logf("%s: RSS with no connections: %.1f MiB", p.name, mib(r.RSSBefore))
	if b.cfg.ProfileDir != "" && p.name == "go" {
		if err := p.saveProfile(ctx, "/debug/memstats", filepath.Join(b.cfg.ProfileDir, "base-memstats.json")); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	cs, err := dialAll(ctx, p.addr, b.cfg.Conns, b.cfg.Dialers, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		closeAll(cs)
		// Let the server finish tearing the sessions down before the
		// next phase measures its CPU time.
		_ = waitIdle(ctx, p)
	}()
	r.ConnectSeconds = time.Since(t0).Seconds()
	b.logf("%s: %d connections in %.2fs", p.name, len(cs), r.ConnectSeconds)
	if r.RSSAfterSettled, r.RSSAfter, err = b.memoryReading(ctx, p); err != nil {
		return nil, err
	}
	if b.cfg.ProfileDir != "" && p.name == "go" {
		dir := b.cfg.ProfileDir
		if err := p.saveProfile(ctx, "/debug/pprof/heap?gc=1", filepath.Join(dir, "idle-heap.pprof")); err != nil {
			return nil, err
		}
		if err := p.saveProfile(ctx, "/debug/pprof/goroutine?debug=1", filepath.Join(dir, "idle-goroutines.txt")); err != nil {
			return nil, err
		}
		if err := p.saveProfile(ctx, "/debug/memstats", filepath.Join(dir, "idle-memstats.json")); err != nil {
			return nil, err
		}
	}
	// Every connection must still be up.
	for _, c := range cs {
		select {
		case <-c.done:
			return nil, fmt.Errorf("a connection ended while idle: %v", c.err)
		default:
		}
	}
	n := float64(len(cs))
	r.BytesPerConn = float64(r.RSSAfter-r.RSSBefore) / n
	r.BytesPerConnSettled = float64(r.RSSAfterSettled-r.RSSBeforeSettled) / n
	b.logf("%s: RSS with %d connections: %.1f MiB: %.0f bytes each", p.name, len(cs), mib(r.RSSAfter), r.BytesPerConn)
	return r, nil
}

// waitIdle waits, at most 20 s, until the server uses almost no CPU: less
// than 20 ms over half a second.
func waitIdle(ctx context.Context, p *serverProc) error {
	deadline := time.Now().Add(20 * time.Second)
	prev, err := cpuSeconds(p.pid)
	if err != nil {
		return err
	}
	for time.Now().Before(deadline) {
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
		cur, err := cpuSeconds(p.pid)
		if err != nil {
			return err
		}
		if cur-prev < 0.02 {
			return nil
		}
		prev = cur
	}
	return nil
}

// window is the measured part of a load phase: it reads the server's and
// the generator's CPU time at its start and end, and runs the profiles.
type window struct {
	start, end         time.Time
	cpu0, cpu1         float64
	self0, self1       float64
	all0, all1         float64 // the whole machine
	reads0, reads1     int64   // the server's read system calls
	writes0, writes1   int64   // and write system calls
	startHook, endHook func()
}

// run waits for the window and takes the readings; the load runs
// meanwhile on other goroutines.
func (w *window) run(ctx context.Context, p *serverProc) error {
	if err := sleep(ctx, time.Until(w.start)); err != nil {
		return err
	}
	var err error
	if w.cpu0, err = cpuSeconds(p.pid); err != nil {
		return err
	}
	w.self0, _ = cpuSeconds(0)
	w.all0, _ = machineBusySeconds()
	w.reads0, w.writes0, _ = ioCalls(p.pid)
	if w.startHook != nil {
		w.startHook()
	}
	if err := sleep(ctx, time.Until(w.end)); err != nil {
		return err
	}
	if w.cpu1, err = cpuSeconds(p.pid); err != nil {
		return err
	}
	w.self1, _ = cpuSeconds(0)
	w.all1, _ = machineBusySeconds()
	w.reads1, w.writes1, _ = ioCalls(p.pid)
	if w.endHook != nil {
		w.endHook()
	}
	return nil
}

// otherCPU is the CPU time that neither the server nor the load
// generator used during the window: other processes, and the kernel's
// work for no process. Much of it means the figures are disturbed.
func (w *window) otherCPU() float64 {
	if w.all1 == 0 {
		return 0
	}
	return max(0, (w.all1-w.all0)-(w.cpu1-w.cpu0)-(w.self1-w.self0))
}

// profileWindow adds to w the Go server profiles of the window named
// name: CPU over the window, allocations at its start and end.
func (b *bench) profileWindow(ctx context.Context, p *serverProc, w *window, name string) (wait func() error) {
	if b.cfg.ProfileDir == "" || p.name != "go" {
		return func() error { return nil }
	}
	dir := b.cfg.ProfileDir
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	add := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	secs := max(1, int(math.Round(w.end.Sub(w.start).Seconds())))
	w.startHook = func() {
		add(p.saveProfile(ctx, "/debug/pprof/allocs", filepath.Join(dir, name+"-allocs-start.pprof")))
		wg.Add(1)
		go func() {
			defer wg.Done()
			add(p.saveProfile(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), filepath.Join(dir, name+"-cpu.pprof")))
		}()
		if secs >= 4 {
			// An execution trace of two seconds in the middle of the
			// window, for scheduling latency (go tool trace).
			wg.Add(1)
			go func() {
				defer wg.Done()
				if sleep(ctx, time.Duration(secs/2-1)*time.Second) == nil {
					add(p.saveProfile(ctx, "/debug/pprof/trace?seconds=2", filepath.Join(dir, name+"-trace.out")))
				}
			}()
		}
	}
	w.endHook = func() {
		add(p.saveProfile(ctx, "/debug/pprof/allocs", filepath.Join(dir, name+"-allocs-end.pprof")))
	}
	return func() error {
		wg.Wait()
		return errors.Join(errs...)
	}
}

// ackPhase: clients send echo with an ack in a closed loop.
func (b *bench) ackPhase(ctx context.Context, p *serverProc) (*ackResult, error) {
	if err := waitIdle(ctx, p); err != nil {
		return nil, err
	}
	cs, err := dialAll(ctx, p.addr, b.cfg.Clients, b.cfg.Dialers, nil)
	if err != nil {
		return nil, err
	}
	defer closeAll(cs)
	now := time.Now()
	w := &window{start: now.Add(b.cfg.Warmup), end: now.Add(b.cfg.Warmup + b.cfg.Duration)}
	profWait := b.profileWindow(ctx, p, w, "ack")
	payload := strings.Repeat("e", b.cfg.EchoPayload)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer abortOnDone(lctx, cs)()
	samples := make([][]time.Duration, len(cs))
	errc := make(chan error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := newEchoer(c, payload)
			var mine []time.Duration
			for {
				t0 := time.Now()
				if !t0.Before(w.end) {
					break
				}
				if err := e.roundTrip(lctx, 10*time.Second); err != nil {
					errc <- err
					cancel()
					break
				}
				t1 := time.Now()
				if !t0.Before(w.start) && !t1.After(w.end) {
					mine = append(mine, t1.Sub(t0))
				}
			}
			samples[i] = mine
		}()
	}
	werr := w.run(lctx, p)
	wg.Wait()
	perr := profWait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, werr
	}
	if perr != nil {
		return nil, perr
	}
	all := slices.Concat(samples...)
	slices.Sort(all)
	secs := w.end.Sub(w.start).Seconds()
	r := &ackResult{
		Clients:    len(cs),
		Seconds:    secs,
		RoundTrips: int64(len(all)),
		PerSecond:  float64(len(all)) / secs,
		P50Micros:  micros(percentile(all, 0.50)),
		P99Micros:  micros(percentile(all, 0.99)),
		P90Micros:  micros(percentile(all, 0.90)),
		P999Micros: micros(percentile(all, 0.999)),
		MaxMicros:  micros(percentile(all, 1)),
		ServerCPU:  w.cpu1 - w.cpu0,
		LoadCPU:    w.self1 - w.self0,
		OtherCPU:   w.otherCPU(),
	}
	if r.ServerCPU > 0 {
		r.PerCPUSecond = float64(r.RoundTrips) / r.ServerCPU
	}
	if r.RoundTrips > 0 {
		r.ServerReads = float64(w.reads1-w.reads0) / float64(r.RoundTrips)
		r.ServerWrites = float64(w.writes1-w.writes0) / float64(r.RoundTrips)
	}
	b.logf("%s: %.0f round trips/s, p50 %.0fµs, p99 %.0fµs, server CPU %.2fs", p.name, r.PerSecond, r.P50Micros, r.P99Micros, r.ServerCPU)
	return r, nil
}

// bcastPhase: one client triggers broadcasts that every client receives,
// keeping at most InFlight of them not yet received by all.
func (b *bench) bcastPhase(ctx context.Context, p *serverProc) (*bcastResult, error) {
	if err := waitIdle(ctx, p); err != nil {
		return nil, err
	}
	k := b.cfg.InFlight
	h := newHub(b.cfg.BClients, k)
	cs, err := dialAll(ctx, p.addr, b.cfg.BClients, b.cfg.Dialers, h)
	if err != nil {
		return nil, err
	}
	defer closeAll(cs)
	now := time.Now()
	w := &window{start: now.Add(b.cfg.Warmup), end: now.Add(b.cfg.Warmup + b.cfg.Duration)}
	profWait := b.profileWindow(ctx, p, w, "bcast")
	var d0, d1 int64
	ws, we := w.startHook, w.endHook
	w.startHook = func() {
		d0 = h.delivered.Load()
		if ws != nil {
			ws()
		}
	}
	w.endHook = func() {
		d1 = h.delivered.Load()
		if we != nil {
			we()
		}
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer abortOnDone(lctx, cs)()
	var fanout []time.Duration
	var sent int64
	trigErr := make(chan error, 1)
	go func() {
		var err error
		sent, fanout, err = b.trigger(lctx, cs[0], h, w, k)
		if err != nil {
			cancel()
		}
		trigErr <- err
	}()
	werr := w.run(lctx, p)
	terr := <-trigErr
	perr := profWait()
	if terr != nil {
		return nil, terr
	}
	if werr != nil {
		return nil, werr
	}
	if perr != nil {
		return nil, perr
	}
	slices.Sort(fanout)
	secs := w.end.Sub(w.start).Seconds()
	r := &bcastResult{
		Clients:     len(cs),
		InFlight:    k,
		Seconds:     secs,
		Broadcasts:  sent,
		Deliveries:  d1 - d0,
		PerSecond:   float64(d1-d0) / secs,
		FanoutP50ms: millis(percentile(fanout, 0.50)),
		FanoutP99ms: millis(percentile(fanout, 0.99)),
		ServerCPU:   w.cpu1 - w.cpu0,
		LoadCPU:     w.self1 - w.self0,
		OtherCPU:    w.otherCPU(),
	}
	if r.ServerCPU > 0 {
		r.PerCPUSecond = float64(r.Deliveries) / r.ServerCPU
	}
	if r.Deliveries > 0 {
		r.ServerWrites = float64(w.writes1-w.writes0) / float64(r.Deliveries)
	}
	b.logf("%s: %.0f deliveries/s, fan-out p50 %.1fms p99 %.1fms, server CPU %.2fs", p.name, r.PerSecond, r.FanoutP50ms, r.FanoutP99ms, r.ServerCPU)
	return r, nil
}

// trigger sends broadcasts from c until the window ends, at most k of them
// not yet received by every client, then waits for the last ones. It
// returns how many it sent and the fan-out time (send to last receipt) of
// those sent within the window.
func (b *bench) trigger(ctx context.Context, c *client, h *hub, w *window, k int) (int64, []time.Duration, error) {
	payload := strings.Repeat("x", b.cfg.Payload)
	sentAt := make([]time.Time, k)
	complete := make([]bool, k)
	var fanout []time.Duration
	var low, next int64 // lowest broadcast not yet complete; next to send
	var msg []byte
	stall := time.NewTimer(time.Hour)
	defer stall.Stop()
	const stallAfter = 15 * time.Second
	for {
		for time.Now().Before(w.end) && ctx.Err() == nil && next-low < int64(k) {
			slot := next % int64(k)
			h.slots[slot].Store(0)
			complete[slot] = false
			msg = appendBcast(msg[:0], next, payload)
			sentAt[slot] = time.Now()
			if err := c.send(msg); err != nil {
				return next, fanout, err
			}
			next++
		}
		if low == next {
			return next, fanout, nil
		}
		stall.Reset(stallAfter)
		select {
		case seq := <-h.complete:
			slot := seq % int64(k)
			complete[slot] = true
			t := time.Now()
			if !sentAt[slot].Before(w.start) && !t.After(w.end) {
				fanout = append(fanout, t.Sub(sentAt[slot]))
			}
			for low < next && complete[low%int64(k)] {
				low++
			}
		case <-stall.C:
			return next, fanout, fmt.Errorf("broadcast %d did not reach all %d clients within %v (got %d)",
				low, h.receivers, stallAfter, h.slots[low%int64(k)].Load())
		case <-ctx.Done():
			return next, fanout, ctx.Err()
		}
	}
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(b int64) float64            { return float64(b) / (1 << 20) }
