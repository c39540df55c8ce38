package httpadapter_test

// Handlers that block, with the official client: the connection keeps its
// heartbeat, acknowledgements and their timeouts work inside a handler, and
// a flood at a blocked handler leaves memory bounded.

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
)

func TestBlockingHandlers(t *testing.T) {
	for _, tr := range []string{"polling", "websocket"} {
		t.Run(tr, func(t *testing.T) {
			// Short enough for a quick test, long enough that a loaded
			// machine does not miss a heartbeat.
			const pi, pt = 400 * time.Millisecond, time.Second
			rec := newRecorder()
			e := newEnv(t, httpadapter.Options{PingInterval: pi, PingTimeout: pt}, func(srv *httpadapter.Server) {
				rec.attach(srv.Of("/"))
				srv.OnConnection(func(s *core.Socket) {
					s.On("slow", func(e *core.Event) {
						time.Sleep(2 * (pi + pt)) // the point of the test: a handler that blocks
						_ = e.Ack("slept")
					})
					s.On("ask", func(e *core.Event) {
						var q string
						_ = e.Bind(&q)
						ans, err := s.EmitWithAck(context.Background(), "question", q)
						if err != nil {
							_ = e.Ack("error: " + err.Error())
							return
						}
						_ = e.Ack(ans.Values()...)
					})
					s.On("ask-timeout", func(e *core.Event) {
						_, err := s.Timeout(150*time.Millisecond).EmitWithAck(context.Background(), "silent")
						_ = e.Ack(err.Error())
					})
					s.On("ask-all", func(e *core.Event) {
						res, err := srv.Timeout(5*time.Second).EmitWithAck(context.Background(), "bq")
						if err != nil {
							_ = e.Ack("error: " + err.Error())
							return
						}
						var out []any
						for _, r := range res {
							out = append(out, r.Values()...)
						}
						_ = e.Ack(out...)
					})
				})
			})
			p := e.startNode("blocking", map[string]any{"client": map[string]any{"transports": []string{tr}}})
			p.expect("connect")
			var slow struct {
				Ans       string
				Pings     int
				Transport string
			}
			p.expect("slow").Decode(t, &slow)
			if len(slow.Ans) == 0 || slow.Ans != "slept" || slow.Transport != tr {
				t.Fatalf("slow: %+v", slow)
			}
			// The heartbeat went on while the handler slept: at least two
			// pings in 2*(pi+pt).
			if slow.Pings < 2 {
				t.Fatalf("%d pings during the slow handler", slow.Pings)
			}
			var ask struct{ Ans string }
			p.expect("ask").Decode(t, &ask)
			if ask.Ans != "reply-to-q1" {
				t.Fatalf("ask: %+v", ask)
			}
			p.expect("ask-timeout").Decode(t, &ask)
			if ask.Ans != core.ErrAckTimeout.Error() {
				t.Fatalf("ask-timeout: %+v", ask)
			}
			p.expect("ask-all").Decode(t, &ask)
			if ask.Ans != "b-reply" {
				t.Fatalf("ask-all: %+v", ask)
			}
			p.expect("end")
			if d := recv(t, rec.discs, "disconnect"); d.reason != "client namespace disconnect" {
				t.Fatalf("server saw %q", d.reason)
			}
		})
	}
}

// TestFloodAtBlockedHandler: one client sends 24 MB of events at a handler
// that blocks; the server reads only up to its inbox limit (then the
// connection's reads pause), its heap stays far below what was sent,
// another client is served meanwhile, and once released every event runs,
// in order.
func TestFloodAtBlockedHandler(t *testing.T) {
	for _, tr := range []string{"polling", "websocket"} {
		t.Run(tr, func(t *testing.T) {
			const count, size = 3000, 8 << 10
			release := make(chan struct{})
			var handled, outOfOrder atomic.Int64
			e := newEnv(t, httpadapter.Options{Inbox: core.InboxLimits{Events: 64, Bytes: 256 << 10}}, func(srv *httpadapter.Server) {
				newRecorder().attach(srv.Of("/")) // "echo" for the other client
				srv.OnConnection(func(s *core.Socket) {
					s.On("flood", func(e *core.Event) {
						var i int
						_ = e.Bind(&i)
						if i == 0 {
							<-release
						}
						if int64(i) != handled.Load() {
							outOfOrder.Add(1)
						}
						handled.Add(1)
					})
					s.On("flood-done", func(e *core.Event) { _ = e.Ack(handled.Load()) })
				})
			})
			heap := func() uint64 {
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				return m.HeapAlloc
			}
			base := heap()
			p := e.startNode("flood", map[string]any{"count": count, "size": size, "client": map[string]any{"transports": []string{tr}}})
			p.expect("connect")
			p.expect("queued")
			// Wait until the server has paused the flooder's reads.
			deadline := time.Now().Add(waitFor)
			for paused := false; !paused; {
				for _, c := range e.srv.Conns() {
					if c.ReadPaused() != nil {
						paused = true
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("reads never paused (%d handled)", handled.Load())
				}
				time.Sleep(10 * time.Millisecond)
			}
			// Another client is served while the flooder waits.
			other := e.startNode("transports", map[string]any{"client": map[string]any{"transports": []string{tr}}})
			other.expect("acked")
			if handled.Load() != 0 {
				t.Fatal("the blocked handler returned")
			}
			grown := int64(heap()) - int64(base)
			if grown > 8<<20 {
				t.Fatalf("heap grew by %d MiB while %d MiB were sent", grown>>20, count*size>>20)
			}
			t.Logf("heap grew by %.1f MiB with %d MiB sent and reads paused", float64(grown)/(1<<20), count*size>>20)
			close(release)
			var done struct{ Last int64 }
			p.expectWithin("done", 60*time.Second).Decode(t, &done)
			if done.Last != count || outOfOrder.Load() != 0 {
				t.Fatalf("handled %v of %d, %d out of order", done.Last, count, outOfOrder.Load())
			}
			p.expect("end")
		})
	}
}
