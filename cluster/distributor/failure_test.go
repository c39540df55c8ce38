package distributor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster/distributor"
	"github.com/sio-go/sio/core"
)

// A replica killed mid-run: the gateway hands each of its sockets over
// to the survivor. The client sees nothing: no disconnect, the same socket
// id; the survivor's connection handler runs for it again (and knows it is
// a handover: it re-joins the socket's rooms), the events the client sent
// meanwhile reach it in order, and a broadcast reaches every client once.
// A socket whose client waits for an answer the dead replica owed it is
// ended instead, at the client ("io server disconnect", the pending ack
// fails), and only that namespace: the client's other namespace, served by
// another backend, goes on. A replica started later takes new connections.
func TestReplicaDies(t *testing.T) {
	s := newSystem(t)
	doomed := s.chatProcess()
	// The survivor holds the handovers in a middleware until the test has
	// sent events behind them, so that those wait at the gateway.
	entered := make(chan string, 16)
	hold := newLatch()
	survivor := s.chat(func(nsp *core.Namespace) {
		nsp.Use(func(s *core.Socket) error {
			if s.HandedOver() {
				entered <- s.ID()
				hold.wait()
			}
			return nil
		})
	})
	t.Cleanup(hold.open) // before the backend closes
	s.game()
	gw := s.gateway("/chat", "/game")
	waitBackends(t, gw, "chat", 2)
	waitBackends(t, gw, "game", 1)

	// Each client: one connection carrying /chat and /game.
	const n = 6
	on, ids := s.spread(gw, n)
	victims, spared := on[jsonOf(doomed.id)], on[jsonOf(survivor.ID())]
	if len(victims) < 2 || len(spared) == 0 {
		t.Fatalf("sockets per replica: %v", on)
	}
	// One victim waits for an answer that the doomed replica will never
	// give; the call after it proves the event has reached the replica.
	hanging, moved := victims[0], victims[1:]
	hang := s.ask(hanging, "hang", time.Minute)
	s.call(hanging, "replica")
	killed := time.Now()
	doomed.kill()

	// The handovers reach the survivor, which holds them; what the moved
	// clients send now waits at the gateway.
	for range moved {
		select {
		case id := <-entered:
			t.Logf("socket %s handed over %v after the kill", id, time.Since(killed).Round(time.Millisecond))
		case <-time.After(waitFor):
			t.Fatal("no handover reached the survivor")
		}
	}
	const burst = 50
	for _, name := range moved {
		s.emitCounts(name, burst)
	}
	// Meanwhile the socket with an answer pending is ended at the client.
	s.endedAtClient(hanging, hang)
	hold.open()

	for _, name := range moved {
		s.counted(name, burst)
		s.handedOver(name, ids[name], survivor.ID())
	}
	for _, name := range spared {
		if got := s.call(name, "handedover"); got != "false" {
			t.Fatalf("%s: handed over: %s", name, got)
		}
	}
	// A broadcast after the handover reaches every chat client once.
	if got := s.call(spared[0], "announce", "hi"); got != "true" {
		t.Fatalf("announce: %s", got)
	}
	for _, name := range append(append([]string{}, spared...), moved...) {
		if e := s.clients.event(name, "announced"); jsonOf(e["args"]) != `["hi"]` {
			t.Fatalf("%s: %v", name, e)
		}
	}
	// Every client's other namespace goes on.
	s.playAll(n)
	s.clients.none(500*time.Millisecond, "a second copy of a broadcast, a disconnect or a connect", func(e ev) bool {
		switch e.s("ev") {
		case "event":
			return e.s("name") == "announced"
		case "disconnect", "connect", "connect_error":
			return true
		}
		return false
	})

	// A new replica takes its share of new connections.
	fresh := s.chat()
	waitBackends(t, gw, "chat", 2)
	s.connect("late", gw)
	if got := s.call("late", "replica"); got != jsonOf(fresh.ID()) {
		t.Fatalf("a new connect went to %s, not to the fresh replica", got)
	}
}

// A gateway killed: the backends end its sockets ("transport close"), a
// backend waiting for one of its clients' answers gets
// ErrDisconnected, and the clients reconnect through the other gateway.
func TestGatewayDies(t *testing.T) {
	s := newSystem(t)
	asked := make(chan error, 1)
	s.backend("chat", func(b *distributor.Backend) {
		nsp := b.Of("/chat")
		chatHandlers(nsp, s.gone)
		nsp.OnConnection(func(s *core.Socket) {
			s.On("ask-forever", func(e *core.Event) {
				// An answer that never comes: the client is told not to.
				_, err := s.EmitWithAck(context.Background(), "silent")
				asked <- err
			})
		})
	})
	doomed := startNode(t, "gateway", s.redis.URL())
	other := s.gateway("/chat")
	waitReady(t, other, "chat")

	s.clients.send(ev{"cmd": "connect", "c": "a", "url": doomed.URL(), "nsp": "/chat", "auth": ev{"token": "secret"},
		// Reconnects go to the other gateway, as behind a load balancer
		// that dropped the dead one.
		"fallback": other.URL()})
	aID := s.clients.expect("a", "connect").s("id")
	s.clients.send(ev{"cmd": "emit", "c": "a", "event": "ask-forever", "args": []any{}})
	s.clients.event("a", "silent")
	doomed.kill()

	if r := s.gone.wait(t, aID); r != "transport close" {
		t.Fatalf("backend saw %q", r)
	}
	select {
	case err := <-asked:
		if !errors.Is(err, core.ErrDisconnected) {
			t.Fatalf("the backend's EmitWithAck ended with %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("the backend's EmitWithAck still waits")
	}
	s.clients.expect("a", "disconnect")
	s.clients.expect("a", "connect")
	if got := s.call("a", "echo", 1); got != "1" {
		t.Fatalf("after the reconnect: %s", got)
	}
}

// A client that floods a socket whose handler blocks: the backend cannot
// make the gateway stop reading, so past a bound its session is closed,
// and the backend's memory stays bounded.
func TestFloodAtBlockedHandler(t *testing.T) {
	s := newSystem(t)
	hold := newLatch()
	b := s.backend("chat", func(b *distributor.Backend) {
		nsp := b.Of("/chat")
		chatHandlers(nsp, s.gone)
		nsp.OnConnection(func(s *core.Socket) {
			s.On("block", func(e *core.Event) { hold.wait() })
		})
	})
	t.Cleanup(hold.open) // before the backend closes
	gw := s.gateway("/chat")
	waitReady(t, gw, "chat")
	s.clients.send(ev{"cmd": "connect", "c": "a", "url": gw.URL(), "nsp": "/chat", "auth": ev{"token": "secret"}, "opts": ev{"reconnection": false}})
	id := s.clients.expect("a", "connect").s("id")
	s.clients.send(ev{"cmd": "emit", "c": "a", "event": "block", "args": []any{}})
	s.emitCounts("a", 3000)
	if r := s.clients.expect("a", "disconnect").s("reason"); r != "transport close" {
		t.Fatalf("client: %s", r)
	}
	// The socket has left at once; its disconnect handlers run after the
	// turns queued before, the blocked one first.
	eventually(t, "the socket gone", func() bool { return b.Of("/chat").SocketCount() == 0 })
	hold.open()
	if r := s.gone.wait(t, id); r != "forced close" {
		t.Fatalf("backend: %s", r)
	}
}
