//go:build !js

package transport_test

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
	"github.com/sio-go/sio/transport"
)

// goroutinesIn counts the goroutines whose stack has fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// TestPark: idle WebSocket sessions hold no goroutine: their readers park
// right after connecting; a message wakes a session's reader, which
// answers it; a session that the server closes while parked, or whose
// client goes away while parked, ends; and the parking lot's goroutine
// ends with the last parked session.
func TestPark(t *testing.T) {
	if !transport.CanPark {
		t.Skip("parking needs epoll: Linux only")
	}
	for _, md := range modes[1:] { // websocket, upgrade
		t.Run(md.name, func(t *testing.T) {
			const n = 20
			var disconnects atomic.Int64
			sockets := make(chan *core.Socket, n)
			_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
				echoServer(srv)
				srv.Of("/").OnConnection(func(s *core.Socket) {
					s.OnDisconnect(func(string) { disconnects.Add(1) })
					sockets <- s
				})
			})
			clients := dialMany(t, ts.URL, md, n)
			var socks []*transport.ClientSocket
			for _, c := range clients {
				s := c.Socket("/", nil)
				if err := s.Connect(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				if md.upgraded {
					waitFor(t, "the upgrade", func() bool { return c.Transport() == "websocket" })
				}
				socks = append(socks, s)
			}
			waitFor(t, "every session to park", func() bool { return transport.ParkedReaders() == n })
			// A reader that has just parked is ending.
			waitFor(t, "no reader to hold a goroutine", func() bool { return goroutinesIn("transport.(*Driver).readOn") == 0 })
			// A message wakes its session's reader, whatever the order.
			for round := range 3 {
				for i := len(socks) - 1; i >= 0; i-- {
					args, err := socks[i].EmitWithAck(ctxT(t), "echo", round, i)
					var r, j int
					if err != nil || args.Bind(&r, &j) != nil || r != round || j != i {
						t.Fatalf("echo %d/%d: %v %d %d", round, i, err, r, j)
					}
				}
			}
			// The server closes half of them, the other half go away.
			var server []*core.Socket
			for range n {
				server = append(server, recv(t, sockets, "a server socket"))
			}
			for i, s := range server {
				if i%2 == 0 {
					s.Disconnect(true)
				}
			}
			for i, c := range clients {
				if i%2 == 1 {
					_ = c.Close()
				}
			}
			waitFor(t, "every session to end", func() bool { return disconnects.Load() == n })
			waitFor(t, "the lot to empty", func() bool { return transport.ParkedReaders() == 0 })
			waitFor(t, "the lot's goroutine to end", func() bool {
				return goroutinesIn("transport.(*parkingLot).run") == 0
			})
		})
	}
}

// TestPark_Idle: a session that talked and then went quiet parks once the
// sweep finds it idle, and a message wakes it again; a client that keeps
// talking through many sweeps (whose interruptions fall anywhere in its
// exchange) gets every answer, in order.
func TestPark_Idle(t *testing.T) {
	if !transport.CanPark {
		t.Skip("parking needs epoll: Linux only")
	}
	waitSweepDone(t)
	transport.SetIdleTick(2*time.Millisecond, t.Cleanup)
	_, ts := newServer(t, httpadapter.Options{}, echoServer)
	clients := dialMany(t, ts.URL, modes[1], 4)
	var socks []*transport.ClientSocket
	for _, c := range clients {
		s := c.Socket("/", nil)
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		socks = append(socks, s)
	}
	echo := func(s *transport.ClientSocket, i, n int) {
		args, err := s.EmitWithAck(ctxT(t), "echo", i, n)
		var a, b int
		if err != nil || args.Bind(&a, &b) != nil || a != i || b != n {
			t.Errorf("echo %d/%d: %v %d %d", i, n, err, a, b)
		}
	}
	for range 3 {
		// Past the first messages, only the sweep parks.
		for i, s := range socks {
			for n := range 3 {
				echo(s, i, n)
			}
		}
		waitFor(t, "the quiet sessions to park", func() bool { return transport.ParkedReaders() == len(socks) })
		waitFor(t, "no reader to hold a goroutine", func() bool { return goroutinesIn("transport.(*Driver).readOn") == 0 })
	}
	// Talk through many sweeps, with pauses of every length around the
	// tick.
	parks := transport.Parks()
	var wg sync.WaitGroup
	for i, s := range socks {
		wg.Go(func() {
			for n := range 150 {
				echo(s, i, n)
				time.Sleep(time.Duration((n*7+i*3)%9) * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if transport.Parks() == parks {
		t.Error("no session parked while the clients paused: the test tried nothing")
	}
}

// waitSweepDone waits until no sweep runs, so that the next one starts
// with the tick the test sets.
func waitSweepDone(t *testing.T) {
	waitFor(t, "the last test's sweep to end", func() bool { return goroutinesIn("transport.(*idleSweep).run") == 0 })
}
