package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/transport"
)

// The limits keep a run within a machine's file descriptors and a
// server's patience.
const (
	maxSessions = 20_000
	maxRate     = 1_000
	maxLatency  = 100_000 // samples kept per session
)

// checkURL validates the configuration of a run against a URL.
func (cfg *loadConfig) checkURL() error {
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
	idx     int
	c       *transport.Client
	s       *transport.ClientSocket
	mu      sync.Mutex
	st      sessionStats
	seq     int64 // last seq-num of this connection
	up      atomic.Bool
	totals  *totals
	start   time.Time     // of the run
	firstUp time.Duration // from start to the first connect; under mu

	onConnected func() // may be nil
}

// totals feed the progress line.
type totals struct {
	up, received, gaps, reconnects, acked atomic.Int64
}

func newSession(idx int, cfg loadConfig, tt *totals) (*session, error) {
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
	if ss.st.Connects == 1 {
		ss.firstUp = time.Since(ss.start)
	}
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

// runClients runs the sessions for cfg.Duration (or until ctx ends) and
// reports; progress, when not nil, gets a live line.
func runClients(ctx context.Context, cfg loadConfig, progress io.Writer) (*report, error) {
	cfg.Compare = false
	if err := cfg.checkURL(); err != nil {
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
	self0, selfErr := cpuSeconds(0)
	all0, allErr := machineBusySeconds()
	for _, s := range sessions {
		s.start = start
	}
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
	self1, selfErr1 := cpuSeconds(0)
	all1, allErr1 := machineBusySeconds()
	// The figures are taken before the sessions close, so that closing
	// is not counted as disconnects.
	col := &column{Name: "server", Label: cfg.URL, ByWorker: map[string]int{}}
	var lat []time.Duration
	var firstUp time.Duration // until the last session's first connect
	for _, s := range sessions {
		s.mu.Lock()
		st := s.st
		st.Up = s.up.Load()
		st.Transport = s.c.Transport()
		lat = append(lat, st.lat...)
		st.lat = nil
		firstUp = max(firstUp, s.firstUp)
		origins := make(map[string]*originStat, len(st.S2C))
		for k, o := range st.S2C {
			c := *o
			c.seen = nil
			origins[k] = &c
		}
		st.S2C = origins
		s.mu.Unlock()
		col.PerSession = append(col.PerSession, st)
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
	f := col.sessionFigures(elapsed, lat, firstUp)
	if selfErr == nil && selfErr1 == nil {
		f["load_cpu_seconds"] = self1 - self0
		if allErr == nil && allErr1 == nil {
			// Here the server is among the other processes, when it
			// runs on this machine.
			f["other_cpu_seconds"] = max(0, (all1-all0)-(self1-self0))
		}
	}
	rep := &report{Tool: "sio-demo client", Mode: modeURL, Config: cfg, Seconds: elapsed.Seconds(), Servers: []*column{col}}
	rep.add(phase{"sessions", fmt.Sprintf("%d sessions over %s, the demo's events (seq-num, s2c-event), %s", cfg.Sessions, transportText(cfg.Transport), rateText(cfg.Rate))},
		[]string{"sessions_up", "never_up", "connects", "reconnects", "connect_seconds", "connect_rate",
			"seq_received", "seq_gaps", "seq_disorder",
			"deliveries", "deliveries_per_second", "s2c_missed", "s2c_duplicates", "s2c_origins", "events_in_per_second",
			"sent", "round_trips", "ack_failed", "round_trips_per_second",
			"ack_p50_ms", "ack_p90_ms", "ack_p99_ms", "ack_p999_ms", "ack_max_ms",
			"server_cpu_seconds", "round_trips_per_server_cpu_second", "deliveries_per_server_cpu_second",
			"rss_mib", "memory_per_conn_kib", "load_cpu_seconds", "other_cpu_seconds"},
		map[string]figures{col.Name: f})
	if f["connects"] == 0 {
		return rep, fmt.Errorf("no session connected to %s", cfg.URL)
	}
	return rep, nil
}

// sessionFigures sums the sessions' figures; lat are the ack latencies,
// firstUp how long until the last session first connected.
func (c *column) sessionFigures(elapsed time.Duration, lat []time.Duration, firstUp time.Duration) figures {
	var up, never, connects, reconnects, seq, gaps, disorder, s2c, missed, dups, sent, acked, failed int64
	origins := map[string]bool{}
	for i := range c.PerSession {
		st := &c.PerSession[i]
		if st.Up {
			up++
			c.ByWorker[st.Node]++
		}
		if st.Connects == 0 {
			never++
		}
		connects += st.Connects
		reconnects += max(st.Connects-1, 0)
		seq += st.SeqReceived
		gaps += st.SeqGaps
		disorder += st.SeqDisorder
		for k, o := range st.S2C {
			origins[k] = true
			s2c += o.Received
			missed += o.Missed
			dups += o.Dups
		}
		sent += st.Sent
		acked += st.Acked
		failed += st.AckFailed
	}
	secs := elapsed.Seconds()
	f := figures{
		"sessions_up": float64(up), "never_up": float64(never), "connects": float64(connects), "reconnects": float64(reconnects),
		"seq_received": float64(seq), "seq_gaps": float64(gaps), "seq_disorder": float64(disorder),
		"deliveries": float64(s2c), "s2c_missed": float64(missed), "s2c_duplicates": float64(dups), "s2c_origins": float64(len(origins)),
		"sent": float64(sent), "round_trips": float64(acked), "ack_failed": float64(failed),
	}
	if secs > 0 {
		f["deliveries_per_second"] = float64(s2c) / secs
		f["events_in_per_second"] = float64(seq+s2c) / secs
		f["round_trips_per_second"] = float64(acked) / secs
	}
	if never == 0 && firstUp > 0 {
		f["connect_seconds"] = firstUp.Seconds()
		f["connect_rate"] = float64(len(c.PerSession)) / firstUp.Seconds()
	}
	slices.Sort(lat)
	latencyFigures(f, "ack", lat, "p50", "p90", "p99", "p999", "max")
	return f
}

// startProgress prints a progress line to w every half second until
// stopped; w nil prints nothing.
func startProgress(w io.Writer, cfg loadConfig, tt *totals, start time.Time) (stop func()) {
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
