package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// checkCompare validates the configuration of a -compare run and fills
// in what it derives.
func (cfg *loadConfig) checkCompare() error {
	servers, err := cfg.servers()
	if err != nil {
		return err
	}
	// Bounded in count: these limits keep a run within the machine's
	// file descriptors and the loopback's ephemeral ports.
	lims := []struct {
		name   string
		v, max int
	}{
		{"-conns", cfg.Conns, 25_000}, {"-bclients", cfg.BClients, 20_000}, {"-inflight", cfg.InFlight, 1_000},
		{"-payload", cfg.Payload, 16 << 10}, {"-echopayload", cfg.EchoPayload, 16 << 10},
		{"-dialers", cfg.Dialers, 512}, {"-clients (entries)", len(cfg.Clients), 10},
	}
	for _, n := range cfg.Clients {
		lims = append(lims, struct {
			name   string
			v, max int
		}{"-clients", n, 10_000})
	}
	for _, c := range lims {
		if c.v < 1 || c.v > c.max {
			return fmt.Errorf("%s must be between 1 and %d", c.name, c.max)
		}
	}
	if cfg.Rounds < 1 || cfg.Rounds > 9 {
		return errors.New("-rounds must be between 1 and 9")
	}
	if cfg.PClients < 0 || cfg.PClients > 2_000 {
		return errors.New("-pclients must be between 0 and 2000")
	}
	if cfg.Duration <= 0 || cfg.Duration > time.Hour {
		return errors.New("-duration must be positive and at most 1h")
	}
	if cfg.Warmup < 0 || cfg.Settle < 0 {
		return errors.New("-warmup and -settle must not be negative")
	}
	if cfg.AckTimeout <= 0 {
		return errors.New("-ack-timeout must be positive")
	}
	most := max(cfg.Conns, slices.Max(cfg.Clients), cfg.BClients)
	need := most + 256
	if lim, err := openFileLimit(); err == nil && uint64(need) > lim {
		return fmt.Errorf("%d connections need about %d file descriptors, the limit is %d (ulimit -n)", most, need, lim)
	}
	if cfg.Timeout <= 0 {
		// Per server: start, warm-up, the memory phase (dials and four
		// settle waits), the load phases, the shutdown; then a margin.
		phases := time.Duration(len(cfg.Clients) + 1)
		if cfg.PClients > 0 {
			phases++
		}
		per := 30*time.Second + 4*cfg.Settle + time.Duration(cfg.Conns)*5*time.Millisecond +
			phases*(cfg.Warmup+cfg.Duration+30*time.Second) + 30*time.Second
		cfg.Timeout = time.Duration(cfg.Rounds*len(servers))*per + time.Minute
	}
	return nil
}

// servers are the servers of -only, in order.
func (cfg *loadConfig) servers() ([]string, error) {
	var out []string
	for s := range strings.SplitSeq(cfg.Only, ",") {
		s = strings.TrimSpace(s)
		switch s {
		case "go", "ref", "plain":
		case "base":
			if cfg.BaseBin == "" {
				return nil, errors.New("-only names base: -basebin must say its binary")
			}
		default:
			return nil, fmt.Errorf("-only is a list of go, ref, plain and base, not %q", cfg.Only)
		}
		if slices.Contains(out, s) {
			return nil, fmt.Errorf("-only names %s twice", s)
		}
		out = append(out, s)
	}
	return out, nil
}

func openFileLimit() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	return r.Cur, nil
}

// serverLabels say what each server of -compare is.
var serverLabels = map[string]string{
	"go":    "sio: sio-demo serve, an echo and a broadcast event",
	"ref":   "reference: the same server on Node.js socket.io (testdata/refserver.js)",
	"plain": "a plain WebSocket echo and broadcast, no Socket.IO (sio-demo serve -plain): the ceiling",
	"base":  "sio, another build (-basebin): the same server",
}

// runBench measures the servers of cfg.Only, one after the other.
func runBench(ctx context.Context, cfg loadConfig, log io.Writer) (*report, error) {
	t0 := time.Now()
	cfg.Compare = true
	if err := cfg.checkCompare(); err != nil {
		return nil, err
	}
	if cfg.GoDebug == "" {
		cfg.GoDebug = os.Getenv("GODEBUG") // the servers inherit it: the report says so
	}
	names, _ := cfg.servers()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	b := &bench{cfg: cfg, log: log}
	var script, node string
	if slices.Contains(names, "ref") {
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
				return nil, errors.New("node is not on PATH (needed for the reference server; -only go,plain leaves it out)")
			}
		}
	}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return nil, err
		}
	}
	var errs []error
	var reps []*report
	for round := range cfg.Rounds {
		// Each round starts one server later, so that no server is
		// always measured first, or right after the same one.
		byName := map[string]*serverResult{}
		for i := range names {
			name := names[(i+round)%len(names)]
			if ctx.Err() != nil {
				break
			}
			start := func() (*serverProc, error) {
				switch name {
				case "ref":
					return startRefServer(ctx, node, script, log)
				case "base":
					return startGoServer(ctx, name, cfg.BaseBin, cfg.GoMaxProcs, cfg.GoDebug, log)
				default:
					return startGoServer(ctx, name, cfg.GoBin, cfg.GoMaxProcs, cfg.GoDebug, log)
				}
			}
			b.round = round
			r, err := b.measure(ctx, name, start)
			byName[name] = r
			if err != nil {
				if cfg.Rounds > 1 {
					err = fmt.Errorf("round %d: %w", round+1, err)
				}
				errs = append(errs, fmt.Errorf("%s server: %w", name, err))
			}
		}
		var results []*serverResult
		for _, name := range names {
			if r := byName[name]; r != nil {
				results = append(results, r)
			}
		}
		if len(results) > 0 {
			reps = append(reps, compareReport(cfg, results))
		}
		if len(errs) > 0 {
			break
		}
	}
	rep := mergeRounds(reps)
	if rep == nil {
		rep = compareReport(cfg, nil)
	}
	rep.Tool = "sio-demo bench"
	rep.Seconds = time.Since(t0).Seconds()
	return rep, errors.Join(errs...)
}

// compareReport makes the report of a -compare run: a column per server,
// a phase for the idle memory, each ack phase and the broadcast.
func compareReport(cfg loadConfig, results []*serverResult) *report {
	rep := &report{Mode: modeCompare, Config: cfg}
	for _, r := range results {
		rep.Servers = append(rep.Servers, &column{Name: r.Server, Label: serverLabels[r.Server], Error: r.Error})
	}
	each := func(f func(*serverResult) figures) map[string]figures {
		m := map[string]figures{}
		for _, r := range results {
			if v := f(r); v != nil {
				m[r.Server] = v
			}
		}
		return m
	}
	gc := "settled " + cfg.Settle.String()
	if cfg.ForceGC {
		gc += ", then after a forced GC and as long again"
	}
	rep.add(phase{"idle", fmt.Sprintf("%d idle WebSocket connections; memory %s", cfg.Conns, gc)},
		[]string{"connects", "connect_seconds", "connect_rate", "rss_empty_mib", "rss_mib", "memory_per_conn_kib",
			"rss_empty_settled_mib", "rss_settled_mib", "memory_per_conn_settled_kib"},
		each(func(r *serverResult) figures { return r.Idle.figures() }))
	// The figures of an ack phase, WebSocket or polling.
	ackKeys := []string{"round_trips", "round_trips_per_second", "ack_p50_ms", "ack_p90_ms", "ack_p99_ms", "ack_p999_ms", "ack_max_ms",
		"server_cpu_seconds", "round_trips_per_server_cpu_second", "server_user_us_per_round_trip", "server_system_us_per_round_trip",
		"server_reads_per_round_trip", "server_writes_per_round_trip", "load_cpu_seconds", "other_cpu_seconds"}
	for i, n := range cfg.Clients {
		who := fmt.Sprintf("%d clients", n)
		if n == 1 {
			who = "1 client"
		}
		rep.add(phase{fmt.Sprintf("ack-%d", n), fmt.Sprintf("%s sending echo (%d bytes) with an ack, one at a time each; %v window", who, cfg.EchoPayload, cfg.Duration)},
			ackKeys,
			each(func(r *serverResult) figures {
				if i < len(r.Acks) {
					return r.Acks[i].figures()
				}
				return nil
			}))
	}
	if cfg.PClients > 0 {
		rep.add(phase{fmt.Sprintf("poll-%d", cfg.PClients), fmt.Sprintf("%d clients on HTTP long-polling alone sending echo (%d bytes) with an ack, one at a time each; %v window (the plain server has no polling)", cfg.PClients, cfg.EchoPayload, cfg.Duration)},
			ackKeys,
			each(func(r *serverResult) figures { return r.Poll.figures() }))
	}
	rep.add(phase{"broadcast", fmt.Sprintf("%d clients receive each broadcast of %d bytes that one of them sends, at most %d in flight; %v window", cfg.BClients, cfg.Payload, cfg.InFlight, cfg.Duration)},
		[]string{"broadcasts", "deliveries", "deliveries_per_second", "fanout_p50_ms", "fanout_p99_ms",
			"server_cpu_seconds", "deliveries_per_server_cpu_second", "server_user_us_per_delivery", "server_system_us_per_delivery",
			"server_writes_per_delivery", "load_cpu_seconds", "other_cpu_seconds"},
		each(func(r *serverResult) figures { return r.Bcast.figures() }))
	rep.compare()
	for _, r := range results {
		busy := 0.0
		for _, a := range append(r.Acks, r.Poll) {
			if a != nil {
				busy = max(busy, a.OtherCPU/a.Seconds)
			}
		}
		if r.Bcast != nil {
			busy = max(busy, r.Bcast.OtherCPU/r.Bcast.Seconds)
		}
		if busy > 0.15 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("warning: while the %s server was measured, other processes used %.0f%% of a core: its figures are disturbed", r.Server, 100*busy))
		}
		if r.Error != "" {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s server failed: %s", r.Server, r.Error))
		}
	}
	return rep
}

func (i *idleResult) figures() figures {
	if i == nil {
		return nil
	}
	f := figures{
		"connects": float64(i.Conns), "connect_seconds": i.ConnectSeconds,
		"rss_empty_mib": mib(i.RSSBefore), "rss_mib": mib(i.RSSAfter), "memory_per_conn_kib": i.BytesPerConn / 1024,
		"rss_empty_settled_mib": mib(i.RSSBeforeSettled), "rss_settled_mib": mib(i.RSSAfterSettled),
		"memory_per_conn_settled_kib": i.BytesPerConnSettled / 1024,
	}
	if i.ConnectSeconds > 0 {
		f["connect_rate"] = float64(i.Conns) / i.ConnectSeconds
	}
	return f
}

func (a *ackResult) figures() figures {
	if a == nil {
		return nil
	}
	f := figures{
		"round_trips": float64(a.RoundTrips), "round_trips_per_second": a.PerSecond,
		"server_cpu_seconds": a.ServerCPU, "server_reads_per_round_trip": a.ServerReads,
		"server_writes_per_round_trip": a.ServerWrites, "load_cpu_seconds": a.LoadCPU, "other_cpu_seconds": a.OtherCPU,
	}
	latencyFigures(f, "ack", a.latencies, "p50", "p90", "p99", "p999", "max")
	if a.ServerCPU > 0 {
		f["round_trips_per_server_cpu_second"] = float64(a.RoundTrips) / a.ServerCPU
	}
	cpuSplit(f, "round_trip", a.ServerCPU, a.ServerSysCPU, a.RoundTrips)
	return f
}

// cpuSplit adds the server's CPU per unit (round trip, delivery) in
// microseconds, in user mode and in the kernel: the system calls' share,
// which every server pays alike for the same calls, apart from the code
// each runs between them.
func cpuSplit(f figures, unit string, cpu, sys float64, n int64) {
	if cpu <= 0 || n <= 0 {
		return
	}
	f["server_user_us_per_"+unit] = 1e6 * (cpu - sys) / float64(n)
	f["server_system_us_per_"+unit] = 1e6 * sys / float64(n)
}

func (b *bcastResult) figures() figures {
	if b == nil {
		return nil
	}
	f := figures{
		"broadcasts": float64(b.Broadcasts), "deliveries": float64(b.Deliveries), "deliveries_per_second": b.PerSecond,
		"server_cpu_seconds": b.ServerCPU, "server_writes_per_delivery": b.ServerWrites,
		"load_cpu_seconds": b.LoadCPU, "other_cpu_seconds": b.OtherCPU,
	}
	latencyFigures(f, "fanout", b.fanout, "p50", "p99")
	if b.ServerCPU > 0 {
		f["deliveries_per_server_cpu_second"] = float64(b.Deliveries) / b.ServerCPU
	}
	cpuSplit(f, "delivery", b.ServerCPU, b.ServerSysCPU, b.Deliveries)
	return f
}

type bench struct {
	cfg   loadConfig
	log   io.Writer
	round int // counted from 0
}

// profiling reports whether p's profiles are saved: the go server's, in
// the first round.
func (b *bench) profiling(p *serverProc) bool {
	return b.cfg.ProfileDir != "" && p.name == "go" && b.round == 0
}

func (b *bench) logf(format string, args ...any) {
	if b.cfg.Verbose {
		fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
	}
}

// serverResult holds the figures of one server.
type serverResult struct {
	Server string
	Idle   *idleResult
	Acks   []*ackResult // one per -clients entry
	Poll   *ackResult   // -pclients on polling; none for the plain server
	Bcast  *bcastResult
	Error  string
}

type idleResult struct {
	Conns          int
	ConnectSeconds float64
	// After a full collection (when ForceGC) and the settle wait.
	RSSBefore    int64
	RSSAfter     int64
	BytesPerConn float64
	// After the settle wait alone.
	RSSBeforeSettled    int64
	RSSAfterSettled     int64
	BytesPerConnSettled float64
}

type ackResult struct {
	Clients      int
	Seconds      float64
	RoundTrips   int64
	PerSecond    float64
	ServerCPU    float64
	ServerSysCPU float64 // the part of ServerCPU spent in the kernel
	LoadCPU      float64
	OtherCPU     float64
	ServerReads  float64
	ServerWrites float64
	latencies    []time.Duration // sorted
}

type bcastResult struct {
	Clients      int
	Seconds      float64
	Broadcasts   int64
	Deliveries   int64
	PerSecond    float64
	ServerCPU    float64
	ServerSysCPU float64
	LoadCPU      float64
	OtherCPU     float64
	ServerWrites float64
	fanout       []time.Duration // sorted
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
	for _, n := range b.cfg.Clients {
		a, err := b.ackPhase(ctx, p, n)
		if err != nil {
			return fail(fmt.Sprintf("ack round trips, %d clients", n), err)
		}
		res.Acks = append(res.Acks, a)
	}
	if b.cfg.PClients > 0 && name != "plain" {
		if res.Poll, err = b.pollPhase(ctx, p, b.cfg.PClients); err != nil {
			return fail(fmt.Sprintf("ack round trips, %d polling clients", b.cfg.PClients), err)
		}
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
	n := min(100, max(b.cfg.Conns, slices.Max(b.cfg.Clients), b.cfg.BClients))
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
				if err := e.roundTrip(ctx, b.cfg.AckTimeout); err != nil {
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
	r := &idleResult{Conns: b.cfg.Conns}
	var err error
	if r.RSSBeforeSettled, r.RSSBefore, err = b.memoryReading(ctx, p); err != nil {
		return nil, err
	}
	b.logf("%s: RSS with no connections: %.1f MiB", p.name, mib(r.RSSBefore))
	if b.profiling(p) {
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
	if b.profiling(p) {
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
	cpu0, cpu1         float64 // the server's CPU, user and system
	sys0, sys1         float64 // the server's system CPU alone
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
	user, sys, err := cpuTimes(p.pid)
	if err != nil {
		return err
	}
	w.cpu0, w.sys0 = user+sys, sys
	w.self0, _ = cpuSeconds(0)
	w.all0, _ = machineBusySeconds()
	w.reads0, w.writes0, _ = ioCalls(p.pid)
	if w.startHook != nil {
		w.startHook()
	}
	if err := sleep(ctx, time.Until(w.end)); err != nil {
		return err
	}
	if user, sys, err = cpuTimes(p.pid); err != nil {
		return err
	}
	w.cpu1, w.sys1 = user+sys, sys
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
	if !b.profiling(p) {
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
func (b *bench) ackPhase(ctx context.Context, p *serverProc, clients int) (*ackResult, error) {
	if err := waitIdle(ctx, p); err != nil {
		return nil, err
	}
	cs, err := dialAll(ctx, p.addr, clients, b.cfg.Dialers, nil)
	if err != nil {
		return nil, err
	}
	defer closeAll(cs)
	payload := strings.Repeat("e", b.cfg.EchoPayload)
	rts := make([]roundTripper, len(cs))
	for i, c := range cs {
		rts[i] = newEchoer(c, payload)
	}
	return b.roundTrips(ctx, p, fmt.Sprintf("ack-%d", clients), rts, func(ctx context.Context) func() bool { return abortOnDone(ctx, cs) })
}

// roundTripper is a client of an ack phase.
type roundTripper interface {
	roundTrip(ctx context.Context, timeout time.Duration) error
}

// pollPhase is ackPhase with clients on HTTP long-polling alone.
func (b *bench) pollPhase(ctx context.Context, p *serverProc, clients int) (*ackResult, error) {
	if err := waitIdle(ctx, p); err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	payload := strings.Repeat("e", b.cfg.EchoPayload)
	rts := make([]roundTripper, clients)
	var pes []*pollEchoer
	defer func() {
		for _, e := range pes {
			e.close()
		}
	}()
	for i := range rts {
		e, err := dialPolling(ctx, hc, p.addr, payload)
		if err != nil {
			return nil, err
		}
		pes = append(pes, e)
		rts[i] = e
	}
	return b.roundTrips(ctx, p, fmt.Sprintf("poll-%d", clients), rts, nil)
}

// roundTrips runs rts in closed loops through a warm-up and the measured
// window; abort, when set, makes the clients' waits end with ctx.
func (b *bench) roundTrips(ctx context.Context, p *serverProc, name string, rts []roundTripper, abort func(context.Context) func() bool) (*ackResult, error) {
	now := time.Now()
	w := &window{start: now.Add(b.cfg.Warmup), end: now.Add(b.cfg.Warmup + b.cfg.Duration)}
	profWait := b.profileWindow(ctx, p, w, name)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if abort != nil {
		defer abort(lctx)()
	}
	samples := make([][]time.Duration, len(rts))
	errc := make(chan error, len(rts))
	var wg sync.WaitGroup
	for i, e := range rts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				t0 := time.Now()
				if !t0.Before(w.end) {
					break
				}
				if err := e.roundTrip(lctx, b.cfg.AckTimeout); err != nil {
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
		Clients:      len(rts),
		Seconds:      secs,
		RoundTrips:   int64(len(all)),
		PerSecond:    float64(len(all)) / secs,
		latencies:    all,
		ServerCPU:    w.cpu1 - w.cpu0,
		ServerSysCPU: w.sys1 - w.sys0,
		LoadCPU:      w.self1 - w.self0,
		OtherCPU:     w.otherCPU(),
	}
	if r.RoundTrips > 0 {
		r.ServerReads = float64(w.reads1-w.reads0) / float64(r.RoundTrips)
		r.ServerWrites = float64(w.writes1-w.writes0) / float64(r.RoundTrips)
	}
	b.logf("%s: %d clients: %.0f round trips/s, p50 %.0fµs, p99 %.0fµs, server CPU %.2fs", p.name, len(rts), r.PerSecond,
		micros(percentile(all, 0.5)), micros(percentile(all, 0.99)), r.ServerCPU)
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
		Clients:      len(cs),
		Seconds:      secs,
		Broadcasts:   sent,
		Deliveries:   d1 - d0,
		PerSecond:    float64(d1-d0) / secs,
		ServerCPU:    w.cpu1 - w.cpu0,
		ServerSysCPU: w.sys1 - w.sys0,
		LoadCPU:      w.self1 - w.self0,
		OtherCPU:     w.otherCPU(),
		fanout:       fanout,
	}
	if r.Deliveries > 0 {
		r.ServerWrites = float64(w.writes1-w.writes0) / float64(r.Deliveries)
	}
	b.logf("%s: %.0f deliveries/s, fan-out p50 %.1fms p99 %.1fms, server CPU %.2fs", p.name, r.PerSecond,
		millis(percentile(fanout, 0.5)), millis(percentile(fanout, 0.99)), r.ServerCPU)
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
