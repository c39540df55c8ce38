package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
)

// The demo server's events, as the seed names them.
const (
	evWelcome = "welcome"   // server → client on connect: who answered
	evSeqNum  = "seq-num"   // server → one client: its own counter
	evS2C     = "s2c-event" // server → every client: a worker's broadcast
	evC2S     = "c2s-event" // client → server, answered with an ack
)

// welcome tells a client which worker answered and how the server runs.
type welcome struct {
	Worker      int      `json:"worker"`
	PID         int      `json:"pid"`
	Host        string   `json:"host"`
	Node        string   `json:"node"` // the worker's id, as in s2c-event's from
	Workers     int      `json:"workers"`
	Transports  []string `json:"transports"`
	SeqMS       int64    `json:"seqIntervalMs"`
	BroadcastMS int64    `json:"broadcastIntervalMs"`
	Cluster     bool     `json:"cluster"`
}

// s2cEvent is a worker's broadcast: n counts the broadcasts of from, so a
// client sees a gap or a duplicate per origin.
type s2cEvent struct {
	From    string `json:"from"`
	Worker  int    `json:"worker"`
	N       int64  `json:"n"`
	T       int64  `json:"t"`       // unix milliseconds
	Clients int    `json:"clients"` // sockets connected across the cluster
}

// c2sAck answers a c2s-event.
type c2sAck struct {
	Worker int    `json:"worker"`
	Node   string `json:"node"`
	N      int64  `json:"n"` // c2s-events this socket sent so far
	T      int64  `json:"t"`
}

// demoMetrics are the worker's counters, served at /metrics.
type demoMetrics struct {
	sockets     atomic.Int64 // connected now
	connects    atomic.Int64
	disconnects atomic.Int64
	c2sIn       atomic.Int64
	acksOut     atomic.Int64
	seqOut      atomic.Int64
	s2cOut      atomic.Int64 // broadcasts sent by this worker
	s2cFanout   atomic.Int64 // local sockets at each of this worker's broadcasts
}

// demoServer is one worker: the Socket.IO server, its timers and the
// HTTP endpoints.
type demoServer struct {
	cfg     demoConfig
	worker  int
	node    string
	pid     int
	host    string
	started time.Time
	srv     *httpadapter.Server
	root    *core.Namespace
	m       demoMetrics
	extra   func(w io.Writer) // more metrics (the cluster bus's), may be nil
	clients atomic.Int64      // cluster-wide socket count, last known

	mu     sync.Mutex
	closed bool
	seqs   map[*seqTimer]struct{}
	stop   chan struct{}
	wg     sync.WaitGroup

	pmu   sync.Mutex
	peers map[string]peerCount // the other workers' socket counts, by node
}

// peerCount is a worker's socket count as it last told it.
type peerCount struct {
	n  int
	at time.Time
}

// The workers tell each other their socket counts every countInterval
// (a server-side emit over the cluster bus); a count older than
// countTTL is of a worker that is gone. maxPeers bounds the table.
const (
	countInterval = time.Second
	countTTL      = 3 * countInterval
	maxPeers      = 1024
	evCount       = "demo:count"
)

// newDemoServer makes worker number worker (1-based); adapter may be nil
// for the in-memory adapter.
func newDemoServer(cfg demoConfig, worker int, adapter core.AdapterFactory, logger *slog.Logger) *demoServer {
	host, _ := os.Hostname()
	d := &demoServer{
		cfg:     cfg,
		worker:  worker,
		pid:     os.Getpid(),
		host:    host,
		started: time.Now(),
		seqs:    make(map[*seqTimer]struct{}),
		stop:    make(chan struct{}),
	}
	d.node = fmt.Sprintf("w%d.%d", worker, d.pid)
	d.srv = httpadapter.New(httpadapter.Options{
		Transports: cfg.transports(),
		Adapter:    adapter,
		Logger:     logger,
	})
	d.root = d.srv.Of("/")
	d.root.OnConnection(d.onConnection)
	if cfg.RedisURL != "" {
		d.peers = make(map[string]peerCount)
		d.root.OnServerSideEmit(evCount, d.onPeerCount)
		d.wg.Add(1)
		go d.countLoop()
	}
	d.wg.Add(1)
	go d.broadcastLoop()
	return d
}

func (d *demoServer) welcome() welcome {
	return welcome{
		Worker: d.worker, PID: d.pid, Host: d.host, Node: d.node,
		Workers: d.cfg.Concurrency, Transports: d.cfg.transports(),
		SeqMS: d.cfg.SeqInterval.Milliseconds(), BroadcastMS: d.cfg.BcastInterval.Milliseconds(),
		Cluster: d.cfg.RedisURL != "",
	}
}

func (d *demoServer) onConnection(s *core.Socket) {
	d.m.sockets.Add(1)
	d.m.connects.Add(1)
	_ = s.Emit(evWelcome, d.welcome())
	var c2s atomic.Int64
	s.On(evC2S, func(e *core.Event) {
		d.m.c2sIn.Add(1)
		n := c2s.Add(1)
		if e.WantsAck() {
			d.m.acksOut.Add(1)
			_ = e.Ack(c2sAck{Worker: d.worker, Node: d.node, N: n, T: time.Now().UnixMilli()})
		}
	})
	st := &seqTimer{d: d, s: s}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.seqs[st] = struct{}{}
	st.t = time.AfterFunc(d.cfg.SeqInterval, st.fire)
	d.mu.Unlock()
	s.OnDisconnect(func(string) {
		d.m.sockets.Add(-1)
		d.m.disconnects.Add(1)
		d.mu.Lock()
		delete(d.seqs, st)
		st.t.Stop()
		st.stopped = true
		d.mu.Unlock()
	})
}

// seqTimer sends one client its seq-num events: a timer re-armed after
// each send, so no goroutine waits per client.
type seqTimer struct {
	d       *demoServer
	s       *core.Socket
	t       *time.Timer
	n       int64 // touched by fire only, which never runs twice at once
	stopped bool  // under d.mu
}

func (st *seqTimer) fire() {
	st.n++
	if err := st.s.Emit(evSeqNum, st.n); err == nil {
		st.d.m.seqOut.Add(1)
	}
	st.d.mu.Lock()
	if !st.stopped && !st.d.closed {
		st.t.Reset(st.d.cfg.SeqInterval)
	}
	st.d.mu.Unlock()
}

// broadcastLoop sends this worker's s2c-event to every client of the
// cluster, with the cluster-wide client count, until close.
func (d *demoServer) broadcastLoop() {
	defer d.wg.Done()
	t := time.NewTicker(d.cfg.BcastInterval)
	defer t.Stop()
	var n int64
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		if d.peers == nil {
			d.clients.Store(int64(d.root.SocketCount()))
		}
		n++
		ev := s2cEvent{From: d.node, Worker: d.worker, N: n, T: time.Now().UnixMilli(), Clients: int(d.clients.Load())}
		if err := d.root.Emit(evS2C, ev); err != nil {
			continue
		}
		d.m.s2cOut.Add(1)
		d.m.s2cFanout.Add(d.m.sockets.Load())
	}
}

// countLoop tells the other workers this one's socket count and sums
// theirs, every countInterval.
func (d *demoServer) countLoop() {
	defer d.wg.Done()
	t := time.NewTicker(countInterval)
	defer t.Stop()
	for {
		own := d.root.SocketCount()
		_ = d.root.ServerSideEmit(evCount, d.node, own)
		now := time.Now()
		sum := own
		d.pmu.Lock()
		for node, c := range d.peers {
			if now.Sub(c.at) > countTTL {
				delete(d.peers, node)
				continue
			}
			sum += c.n
		}
		d.pmu.Unlock()
		d.clients.Store(int64(sum))
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
	}
}

// onPeerCount notes another worker's count.
func (d *demoServer) onPeerCount(args core.Args, _ func(...any) error) {
	var node string
	var n int
	if args.Bind(&node, &n) != nil || node == d.node || n < 0 {
		return
	}
	d.pmu.Lock()
	defer d.pmu.Unlock()
	if _, ok := d.peers[node]; !ok && len(d.peers) >= maxPeers {
		return
	}
	d.peers[node] = peerCount{n: n, at: time.Now()}
}

// handler serves the page, Socket.IO, /healthz and /metrics.
func (d *demoServer) handler(page http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(d.srv.Path(), d.srv)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "ok worker=%d pid=%d sockets=%d\n", d.worker, d.pid, d.m.sockets.Load())
	})
	mux.HandleFunc("GET /metrics", d.serveMetrics)
	if page != nil {
		mux.Handle("/", page)
	}
	return mux
}

// serveMetrics writes the counters in the Prometheus text format, each
// labelled with the worker that answered.
func (d *demoServer) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	lbl := `worker="` + strconv.Itoa(d.worker) + `"`
	type metric struct {
		name, typ, help string
		rows            [][2]string // labels, value
	}
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	ms := []metric{
		{"sio_demo_sockets", "gauge", "Sockets connected to this worker.", [][2]string{{lbl, i(d.m.sockets.Load())}}},
		{"sio_demo_cluster_sockets", "gauge", "Sockets connected across the cluster, as the workers last told each other (this worker alone without a cluster bus).", [][2]string{{lbl, i(d.clients.Load())}}},
		{"sio_demo_connects_total", "counter", "Sockets that connected to this worker.", [][2]string{{lbl, i(d.m.connects.Load())}}},
		{"sio_demo_disconnects_total", "counter", "Sockets that disconnected from this worker.", [][2]string{{lbl, i(d.m.disconnects.Load())}}},
		{"sio_demo_events_in_total", "counter", "Events received from clients.", [][2]string{
			{lbl + `,event="c2s-event"`, i(d.m.c2sIn.Load())}}},
		{"sio_demo_events_out_total", "counter", "Events sent: seq-num to one client each, s2c-event broadcasts (once each), acks.", [][2]string{
			{lbl + `,event="seq-num"`, i(d.m.seqOut.Load())},
			{lbl + `,event="s2c-event"`, i(d.m.s2cOut.Load())},
			{lbl + `,event="ack"`, i(d.m.acksOut.Load())}}},
		{"sio_demo_s2c_local_deliveries_total", "counter", "This worker's clients at each of its own broadcasts, summed.", [][2]string{{lbl, i(d.m.s2cFanout.Load())}}},
		{"sio_demo_uptime_seconds", "gauge", "Seconds since this worker started.", [][2]string{{lbl, strconv.FormatFloat(time.Since(d.started).Seconds(), 'f', 1, 64)}}},
	}
	for _, m := range ms {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
		for _, r := range m.rows {
			fmt.Fprintf(w, "%s{%s} %s\n", m.name, r[0], r[1])
		}
	}
	if d.extra != nil {
		d.extra(w)
	}
}

// close stops the timers and tells every client, then waits for the
// sessions to end (or ctx).
func (d *demoServer) close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	for st := range d.seqs {
		st.t.Stop()
		st.stopped = true
	}
	d.mu.Unlock()
	close(d.stop)
	d.wg.Wait()
	return d.srv.Close(ctx)
}

// sortedKeys is for stable output.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
