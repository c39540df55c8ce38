package core

// Tests of the dispatch model: handlers run as turns of their socket on
// goroutines that Config.Go starts, so that they may block while the
// connection reads, resolves acks and fires timeouts.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/core/eio"
	"pgregory.net/rapid"
)

// spawner is a Config.Go that counts its goroutines, so that a test can
// wait for every handler to return.
type spawner struct{ wg sync.WaitGroup }

func (sp *spawner) Go(fn func()) {
	sp.wg.Add(1)
	go func() {
		defer sp.wg.Done()
		fn()
	}()
}

// outWaiter collects a connection's output until a condition holds.
type outWaiter struct {
	cl  *client
	got []string
}

// until takes output until pred accepts what was collected, or fails the
// test after waitFor. Output is polled: the client side of these tests has
// no wake-up of its own.
func (w *outWaiter) until(t *testing.T, what string, pred func([]string) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.got = append(w.got, w.cl.out()...)
		if pred(w.got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: output so far %q", what, w.got)
		}
		time.Sleep(time.Millisecond)
	}
}

func hasFrame(want string) func([]string) bool {
	return func(got []string) bool {
		for _, g := range got {
			if g == want {
				return true
			}
		}
		return false
	}
}

// TestHandlerBlocksInEmitWithAck: a handler waits in EmitWithAck while the
// test, as the connection's reader, delivers the answer; a second waits in
// a Timeout(...).EmitWithAck while the timer fires. Under the old model
// (handlers under the input lock) neither could return.
func TestHandlerBlocksInEmitWithAck(t *testing.T) {
	sp := &spawner{}
	h := newHarness(t, Config{Go: sp.Go})
	h.srv.Of("/").OnConnection(func(s *Socket) {
		s.On("ask", func(e *Event) {
			ans, err := s.EmitWithAck(context.Background(), "question", "q")
			if err != nil {
				_ = e.Ack("error", err.Error())
				return
			}
			var v string
			_ = ans.Bind(&v)
			_ = e.Ack("answer", v)
		})
		s.On("ask-timeout", func(e *Event) {
			_, err := s.Timeout(time.Second).EmitWithAck(context.Background(), "silent")
			_ = e.Ack(fmt.Sprint(err))
		})
	})
	cl := h.dial()
	w := &outWaiter{cl: cl}
	cl.send("40")
	w.until(t, "connect", func(g []string) bool { return len(g) > 0 && strings.HasPrefix(g[0], "40{") })

	cl.send(`421["ask"]`)
	w.until(t, "question", hasFrame(`420["question","q"]`))
	cl.send(`430["yes"]`) // the reader goes on while the handler waits
	w.until(t, "answer", hasFrame(`431["answer","yes"]`))

	cl.send(`422["ask-timeout"]`)
	w.until(t, "silent", hasFrame(`421["silent"]`))
	h.advance(999*time.Millisecond, cl)
	h.advance(time.Millisecond, cl)
	w.until(t, "timeout", hasFrame(`432["operation has timed out"]`))
	sp.wg.Wait()
}

// TestBlockedHandlerHoldsOnlyItsSocket: while one socket's handler blocks,
// the same connection's other namespace and another connection are served,
// and the blocked socket's later events wait, in order.
func TestBlockedHandlerHoldsOnlyItsSocket(t *testing.T) {
	sp := &spawner{}
	h := newHarness(t, Config{Go: sp.Go})
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	handlers := func(s *Socket) {
		s.On("block", func(e *Event) { <-release; _ = e.Ack() })
		s.On("n", func(e *Event) {
			var n int
			_ = e.Bind(&n)
			mu.Lock()
			order = append(order, s.Namespace().Name()+strconv.Itoa(n))
			mu.Unlock()
			_ = e.Ack(n)
		})
	}
	h.srv.Of("/").OnConnection(handlers)
	h.srv.Of("/b").OnConnection(handlers)
	a, b := h.dial(), h.dial()
	wa, wb := &outWaiter{cl: a}, &outWaiter{cl: b}
	a.send("40", "40/b,")
	wa.until(t, "connect a", func(g []string) bool { return len(g) == 2 })
	b.send("40")
	wb.until(t, "connect b", func(g []string) bool { return len(g) == 1 })

	a.send(`420["block"]`, `421["n",1]`, `422["n",2]`)
	a.send(`42/b,3["n",3]`)
	wa.until(t, "other namespace", hasFrame(`43/b,3[3]`))
	b.send(`424["n",4]`)
	wb.until(t, "other connection", hasFrame(`434[4]`))
	close(release)
	wa.until(t, "blocked socket", func(g []string) bool {
		return hasFrame(`430[]`)(g) && hasFrame(`431[1]`)(g) && hasFrame(`432[2]`)(g)
	})
	sp.wg.Wait()
	if got := strings.Join(order, ","); got != "/b3,/4,/1,/2" && got != "/4,/b3,/1,/2" {
		t.Fatalf("handler order %s", got)
	}
}

// TestInboxPausesReads: a flood at a blocked handler fills its inbox to the
// limit, at which point the connection asks its reader to pause; other
// connections are unaffected; once the handler returns, reads resume and
// every event runs, in order.
func TestInboxPausesReads(t *testing.T) {
	sp := &spawner{}
	const limit = 8
	h := newHarness(t, Config{Go: sp.Go, Inbox: InboxLimits{Events: limit}})
	release := make(chan struct{})
	var mu sync.Mutex
	var seen []int
	h.srv.Of("/").OnConnection(func(s *Socket) {
		s.On("n", func(e *Event) {
			var n int
			_ = e.Bind(&n)
			if n == 0 {
				<-release
			}
			mu.Lock()
			seen = append(seen, n)
			mu.Unlock()
		})
		s.On("echo", func(e *Event) { _ = e.Ack(e.Args.Values()...) })
	})
	a, b := h.dial(), h.dial()
	wa, wb := &outWaiter{cl: a}, &outWaiter{cl: b}
	a.send("40")
	wa.until(t, "connect a", func(g []string) bool { return len(g) == 1 })
	b.send("40")
	wb.until(t, "connect b", func(g []string) bool { return len(g) == 1 })

	// Read as an adapter does: stop when the connection says so.
	sent := 0
	for ; a.c.ReadPaused() == nil; sent++ {
		if sent > 10*limit {
			t.Fatalf("reads never paused after %d events", sent)
		}
		a.send(`42["n",` + strconv.Itoa(sent) + `]`)
	}
	// The first event is running (blocked); the rest wait in the inbox.
	if sent > limit+1 {
		t.Fatalf("paused only after %d events, limit %d", sent, limit)
	}
	paused := a.c.ReadPaused()
	b.send(`421["echo","hi"]`)
	wb.until(t, "other connection", hasFrame(`431["hi"]`))

	close(release)
	select {
	case <-paused:
	case <-time.After(10 * time.Second):
		t.Fatal("reads never resumed")
	}
	for i := sent; i < sent+3*limit; i++ {
		for ch := a.c.ReadPaused(); ch != nil; ch = a.c.ReadPaused() {
			<-ch
		}
		a.send(`42["n",` + strconv.Itoa(i) + `]`)
	}
	sp.wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != sent+3*limit {
		t.Fatalf("%d events handled, %d sent", len(seen), sent+3*limit)
	}
	for i, n := range seen {
		if n != i {
			t.Fatalf("event %d handled at position %d: %v", n, i, seen)
		}
	}
}

// TestDisconnectReleasesEmitWithAck: a handler waiting in EmitWithAck gets
// ErrDisconnected at once when its connection closes, and the disconnect
// handlers run after it, as the socket's next turn.
func TestDisconnectReleasesEmitWithAck(t *testing.T) {
	sp := &spawner{}
	h := newHarness(t, Config{Go: sp.Go})
	got := make(chan string, 4)
	h.srv.Of("/").OnConnection(func(s *Socket) {
		s.On("ask", func(e *Event) {
			_, err := s.EmitWithAck(context.Background(), "question")
			got <- fmt.Sprintf("handler: %v", errors.Is(err, ErrDisconnected))
		})
		s.OnDisconnecting(func(reason string) { got <- "disconnecting " + reason + " " + strings.Join(s.Rooms(), ",") })
		s.OnDisconnect(func(reason string) { got <- "disconnect " + reason + " " + strings.Join(s.Rooms(), ",") })
	})
	cl := h.dial()
	w := &outWaiter{cl: cl}
	cl.send("40")
	w.until(t, "connect", func(g []string) bool { return len(g) == 1 })
	id := w.got[0][len(`40{"sid":"`) : len(`40{"sid":"`)+20]
	cl.send(`42["ask"]`)
	w.until(t, "question", hasFrame(`420["question"]`))
	cl.c.HandleTransportClose(h.clk.Now(), nil)
	for _, want := range []string{"handler: true", "disconnecting transport close " + id, "disconnect transport close "} {
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("got %q, want %q", g, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("waiting for %q", want)
		}
	}
	sp.wg.Wait()
}

// TestPausedReadsEndByHeartbeat: a client that fills its socket's inbox
// while a handler waits for that client's answer cannot deliver the answer
// (reads are paused, so memory stays bounded); its unread pongs end the
// session at the ping timeout, which releases the handler with
// ErrDisconnected. Nothing waits forever.
func TestPausedReadsEndByHeartbeat(t *testing.T) {
	sp := &spawner{}
	h := newHarness(t, Config{Go: sp.Go, Inbox: InboxLimits{Events: 2}})
	got := make(chan error, 1)
	h.srv.Of("/").OnConnection(func(s *Socket) {
		s.On("ask", func(e *Event) {
			_, err := s.EmitWithAck(context.Background(), "question")
			got <- err
		})
		s.On("n", func(e *Event) {})
	})
	cl := h.dial()
	w := &outWaiter{cl: cl}
	cl.send("40")
	w.until(t, "connect", func(g []string) bool { return len(g) == 1 })
	cl.send(`42["ask"]`)
	w.until(t, "question", hasFrame(`420["question"]`))
	for i := 0; cl.c.ReadPaused() == nil; i++ {
		if i > 10 {
			t.Fatal("reads never paused")
		}
		cl.send(`42["n"]`)
	}
	// The answer and the pongs wait in the network. 25s: the ping; 20s
	// later: the ping timeout.
	h.advance(25*time.Second, cl)
	h.advance(20*time.Second, cl)
	select {
	case err := <-got:
		if !errors.Is(err, ErrDisconnected) {
			t.Fatalf("handler got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler still waiting")
	}
	if cl.c.ReadPaused() != nil {
		t.Fatal("a closed connection still pauses its reads")
	}
	sp.wg.Wait()
}

// TestMiddlewareMayBlock: a middleware that waits does not hold the
// connection: its heartbeat goes on, and the CONNECT answer comes first,
// before the events the client sent behind its CONNECT.
func TestMiddlewareMayBlock(t *testing.T) {
	sp := &spawner{}
	h := newHarness(t, Config{Go: sp.Go})
	release := make(chan struct{})
	h.srv.Of("/").Use(func(s *Socket) error { <-release; return nil })
	h.srv.Of("/").OnConnection(func(s *Socket) {
		s.On("hi", func(e *Event) { _ = e.Ack("hello") })
	})
	cl := h.dial()
	w := &outWaiter{cl: cl}
	cl.send("40", `421["hi"]`)
	h.advance(25*time.Second, cl) // the heartbeat is not held up
	w.until(t, "ping", hasFrame("2"))
	cl.send("3")
	close(release)
	w.until(t, "answer", hasFrame(`431["hello"]`))
	var connectAt, ackAt int
	for i, g := range w.got {
		if strings.HasPrefix(g, "40{") {
			connectAt = i
		}
		if g == `431["hello"]` {
			ackAt = i
		}
	}
	if connectAt > ackAt {
		t.Fatalf("answer before connect: %q", w.got)
	}
	sp.wg.Wait()
}

// TestPropertyOrderUnderRandomDelays: sockets on several connections send
// numbered events, some with acks, to handlers that block for random
// times, some of them waiting for an answer from their client inside the
// handler. Every socket's events run in arrival order, none is lost, and
// every ack is answered exactly once.
func TestPropertyOrderUnderRandomDelays(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		sp := &spawner{}
		// The inbox holds every event a run sends, so reads never pause
		// here: a paused connection does not read the answers its
		// handlers wait for (see TestPausedReadsEndByHeartbeat), and
		// TestInboxPausesReads covers the pause.
		h := newHarness(t, Config{Go: sp.Go, Inbox: InboxLimits{Events: 64}})
		nConns := rapid.IntRange(1, 3).Draw(rt, "conns")
		delays := rapid.SliceOfN(rapid.IntRange(0, 300), 1, 50).Draw(rt, "delays")
		var mu sync.Mutex
		seen := map[string][]int{}
		nextDelay := 0
		h.srv.Of("/").OnConnection(func(s *Socket) {
			s.On("n", func(e *Event) {
				var n int
				var ask bool
				_ = e.Bind(&n, &ask)
				mu.Lock()
				seen[s.ID()] = append(seen[s.ID()], n)
				d := delays[nextDelay%len(delays)]
				nextDelay++
				mu.Unlock()
				time.Sleep(time.Duration(d) * time.Microsecond)
				if ask {
					ans, err := s.EmitWithAck(context.Background(), "q", n)
					if err != nil {
						rt.Errorf("socket %s event %d: %v", s.ID(), n, err)
						return
					}
					var back int
					_ = ans.Bind(&back)
					_ = e.Ack(back)
					return
				}
				_ = e.Ack(n)
			})
		})
		type conn struct {
			cl    *client
			w     *outWaiter
			id    string
			sent  int
			acked map[int]int // ack id -> answers seen
			asked map[string]bool
		}
		conns := make([]*conn, nConns)
		for i := range conns {
			cl := h.dial()
			c := &conn{cl: cl, w: &outWaiter{cl: cl}, acked: map[int]int{}, asked: map[string]bool{}}
			cl.send("40")
			c.w.until(t, "connect", func(g []string) bool { return len(g) == 1 })
			c.id = c.w.got[0][len(`40{"sid":"`) : len(`40{"sid":"`)+20]
			c.w.got = nil
			conns[i] = c
		}
		// pump answers the server's questions and counts the acks.
		pump := func(c *conn) {
			for _, f := range c.cl.out() {
				switch {
				case strings.HasPrefix(f, "42"): // a question: 42<id>["q",n]
					i := strings.IndexByte(f, '[')
					if c.asked[f] {
						rt.Fatalf("question asked twice: %s", f)
					}
					c.asked[f] = true
					c.cl.send("43" + f[2:i] + "[" + f[i+len(`["q",`):])
				case strings.HasPrefix(f, "43"):
					i := strings.IndexByte(f, '[')
					id, _ := strconv.Atoi(f[2:i])
					c.acked[id]++
				case f == "2":
				default:
					rt.Fatalf("unexpected frame %q", f)
				}
			}
		}
		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		for range steps {
			c := conns[rapid.IntRange(0, nConns-1).Draw(rt, "conn")]
			pump(c)
			if c.cl.c.ReadPaused() != nil {
				rt.Fatalf("reads paused with %d events sent, inbox 64", c.sent)
			}
			ask := rapid.Bool().Draw(rt, "ask")
			c.cl.send(fmt.Sprintf(`42%d["n",%d,%v]`, c.sent, c.sent, ask))
			c.sent++
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			done := true
			for _, c := range conns {
				pump(c)
				if len(c.acked) < c.sent {
					done = false
				}
			}
			if done {
				break
			}
			if time.Now().After(deadline) {
				rt.Fatalf("acks missing after 10s")
			}
			time.Sleep(100 * time.Microsecond)
		}
		sp.wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			for id := 0; id < c.sent; id++ {
				if c.acked[id] != 1 {
					rt.Fatalf("ack %d answered %d times", id, c.acked[id])
				}
			}
			got := seen[c.id]
			if len(got) != c.sent {
				rt.Fatalf("socket %s: %d events handled, %d sent", c.id, len(got), c.sent)
			}
			for i, n := range got {
				if n != i {
					rt.Fatalf("socket %s: order %v", c.id, got)
				}
			}
		}
	})
}

// eventTurn makes a connection in memory whose socket acknowledges echo,
// and returns one step: an event in, its handler's ack out.
func eventTurn(cfg Config) func() {
	done := make(chan struct{}, 1)
	h := &harness{srv: NewServer(cfg), clk: &fakeClock{t: time.Unix(1_000_000, 0)}}
	h.srv.Of("/").OnConnection(func(s *Socket) {
		s.On("echo", func(e *Event) {
			_ = e.Ack()
			done <- struct{}{}
		})
	})
	c, _ := h.srv.NewConn(0, Handshake{}, h.clk.Now(), nil)
	c.TakeOutput(nil)
	_ = c.HandleFrame(h.clk.Now(), []byte("40"), false)
	for len(c.TakeOutput(nil)) == 0 {
		time.Sleep(time.Millisecond)
	}
	frame := []byte(`421["echo"]`)
	var out []eio.Packet
	return func() {
		_ = c.HandleFrame(h.clk.Now(), frame, false)
		<-done
		out = c.TakeOutput(out[:0])
	}
}

// BenchmarkEventTurn: one event in, its handler's ack out, on a connection
// in memory: inline (no Config.Go, the old model's cost) and on a
// goroutine per turn (the adapter's model).
func BenchmarkEventTurn(b *testing.B) {
	for _, mode := range []string{"inline", "goroutine"} {
		b.Run(mode, func(b *testing.B) {
			cfg := Config{}
			if mode == "goroutine" {
				cfg.Go = func(fn func()) { go fn() }
			}
			step := eventTurn(cfg)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				step()
			}
		})
	}
}

// TestEventTurnAllocs keeps what one event and its ack allocate: the
// decoded packet, its arguments, the event, and the ack's frame, built in
// one buffer. The event's name is the handler's string and the ack's
// frame list is on the stack.
func TestEventTurnAllocs(t *testing.T) {
	if raceOn {
		t.Skip("the race detector's sync.Pool drops items at random; counted without it")
	}
	step := eventTurn(Config{})
	if n := testing.AllocsPerRun(200, step); n > 4 {
		t.Errorf("%v allocations per event and ack, want 4 at most", n)
	}
}

// TestPongBringsNextPingForward: with PingInterval shorter than
// PingTimeout, a pong makes the next ping due before the pong deadline the
// adapter's timer waits for, and the connection says so (DeadlineMoved),
// so that pings come every PingInterval, as the reference sends them.
func TestPongBringsNextPingForward(t *testing.T) {
	h := newHarness(t, Config{Engine: eio.Config{PingInterval: 100 * time.Millisecond, PingTimeout: 400 * time.Millisecond}})
	cl := h.dial()
	cl.connect("/")
	cl.c.DeadlineMoved() // whatever the connect did
	h.advance(100*time.Millisecond, cl)
	if out := cl.out(); len(out) != 1 || out[0] != "2" {
		t.Fatalf("ping: %q", out)
	}
	if d, _ := cl.c.Deadline(); !d.Equal(h.clk.Now().Add(400 * time.Millisecond)) {
		t.Fatalf("deadline %v after the ping, want the pong deadline", d.Sub(h.clk.Now()))
	}
	h.clk.Advance(10 * time.Millisecond)
	cl.send("3")
	if !cl.c.DeadlineMoved() {
		t.Fatal("the pong moved the deadline and the connection did not say so")
	}
	if d, _ := cl.c.Deadline(); !d.Equal(h.clk.Now().Add(100 * time.Millisecond)) {
		t.Fatalf("next ping in %v, want PingInterval", d.Sub(h.clk.Now()))
	}
}
