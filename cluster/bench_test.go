package cluster_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster"
	"github.com/sio-go/sio/transport"
	"github.com/sio-go/sio/transport/peertest"
)

// countingClients connects n Go clients to url and returns the number of
// "chat" events they received in total, and a channel closed when that
// reaches want.
func countingClients(b *testing.B, url string, n int) (got *atomic.Int64, target func(want int64) <-chan struct{}) {
	b.Helper()
	got = new(atomic.Int64)
	var want atomic.Int64
	var done atomic.Pointer[chan struct{}]
	for i := 0; i < n; i++ {
		c, err := transport.Dial(ctxT(b), url, &transport.ClientOptions{Transports: []string{"websocket"}, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		s := c.Socket("/", nil)
		s.On("chat", func(*transport.ClientEvent) {
			if got.Add(1) == want.Load() {
				if ch := done.Load(); ch != nil {
					close(*ch)
				}
			}
		})
		if err := s.Connect(ctxT(b)); err != nil {
			b.Fatal(err)
		}
	}
	return got, func(w int64) <-chan struct{} {
		ch := make(chan struct{})
		done.Store(&ch)
		want.Store(w)
		if got.Load() >= w {
			close(ch)
		}
		return ch
	}
}

// A broadcast through the bus: node A emits, the clients of node B
// receive; b.N broadcasts, each to every client of B. Reports deliveries
// per second (wall clock, both nodes, the Go clients and Redis on this
// machine; the allocations count them all). same-node has the clients on
// node A, which still publishes every broadcast: the cost without the
// Redis hop.
func BenchmarkBusBroadcast(b *testing.B) {
	for _, bc := range []struct {
		name    string
		proto   cluster.Protocol
		clients int
		local   bool // the clients are on node A: no Redis hop
	}{
		{"classic/10clients", cluster.Classic, 10, false},
		{"classic/100clients", cluster.Classic, 100, false},
		{"sharded/100clients", cluster.Sharded, 100, false},
		{"same-node/100clients", cluster.Classic, 100, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			redis := peertest.StartRedis(b)
			opts := cluster.Options{URL: redis.URL(), Protocol: bc.proto, Logger: quiet}
			a := startNode(b, opts, nil)
			nb := startNode(b, opts, nil)
			url := nb.url
			if bc.local {
				url = a.url
			}
			got, target := countingClients(b, url, bc.clients)
			msg := map[string]any{"user": "bob", "text": "hello world, how are you today?", "n": 42}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			done := target(int64(b.N * bc.clients))
			for i := 0; i < b.N; i++ {
				if err := a.srv.Of("/").Emit("chat", msg); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-done:
			case <-time.After(time.Minute):
				b.Fatalf("received %d of %d; stats A %+v B %+v", got.Load(), b.N*bc.clients, a.bus.Stats(), nb.bus.Stats())
			}
			el := time.Since(start)
			b.ReportMetric(float64(b.N*bc.clients)/el.Seconds(), "deliveries/s")
			b.ReportMetric(float64(b.N)/el.Seconds(), "broadcasts/s")
			if st := a.bus.Stats(); st.Dropped > 0 || st.Failed > 0 {
				b.Errorf("node A stats %+v", st)
			}
		})
	}
}
