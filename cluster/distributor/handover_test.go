package distributor_test

import (
	"context"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster/distributor"
	"github.com/sio-go/sio/core"
)

// The survivor refuses the sockets handed over to it (a middleware's
// error): each is ended at its client with a DISCONNECT of that namespace
// ("io server disconnect"), the client's other namespace goes on, and the
// application's socket.connect() connects it again, as a new socket.
func TestHandoverRefused(t *testing.T) {
	s := newSystem(t)
	doomed := s.chatProcess()
	survivor := s.chat(func(nsp *core.Namespace) {
		nsp.Use(func(s *core.Socket) error {
			if s.HandedOver() {
				return &core.ConnectError{Message: "no handovers here"}
			}
			return nil
		})
	})
	s.game()
	gw := s.gateway("/chat", "/game")
	waitBackends(t, gw, "chat", 2)
	waitBackends(t, gw, "game", 1)

	const n = 4
	on, ids := s.spread(gw, n)
	victims, spared := on[jsonOf(doomed.id)], on[jsonOf(survivor.ID())]
	if len(victims) == 0 || len(spared) == 0 {
		t.Fatalf("sockets per replica: %v", on)
	}
	doomed.kill()
	for _, name := range victims {
		if r := s.clients.expect(name, "disconnect").s("reason"); r != "io server disconnect" {
			t.Fatalf("%s: disconnect reason %q", name, r)
		}
	}
	s.playAll(n)
	for _, name := range spared {
		if got := s.call(name, "echo", "still here"); got != `"still here"` {
			t.Fatalf("%s: %s", name, got)
		}
	}
	if st := gw.g.Stats(); st.Handovers != uint64(len(victims)) || st.EndedSockets != uint64(len(victims)) {
		t.Fatalf("stats: %+v", st)
	}
	// The application connects the socket again: a new socket.
	for _, name := range victims {
		s.clients.send(ev{"cmd": "reconnect", "c": name})
		if id := s.clients.expect(name, "connect").s("id"); id == ids[name] || id == "" {
			t.Fatalf("%s: connected again as %q (was %q)", name, id, ids[name])
		}
		if got := s.call(name, "handedover"); got != "false" {
			t.Fatalf("%s: handed over: %s", name, got)
		}
	}
	s.quiet(300*time.Millisecond, "disconnect", "connect", "connect_error")
}

// The only replica dies and a new one comes within ConnectWait: its
// sockets wait at the gateway, holding what their clients send, and are
// handed over to the new replica. The client sees nothing.
func TestHandoverToAReplicaThatComesBack(t *testing.T) {
	s := newSystem(t)
	doomed := s.chatProcess()
	gw := s.gateway("/chat")
	waitBackends(t, gw, "chat", 1)
	id := s.connect("a", gw)
	s.call("a", "join", "lobby")

	doomed.kill()
	eventually(t, "the socket waiting for a replica", func() bool { return gw.g.Stats().Handovers == 1 })
	const burst = 30
	s.emitCounts("a", burst)
	fresh := s.chat()
	s.counted("a", burst)
	s.handedOver("a", id, fresh.ID())
	s.quiet(300*time.Millisecond, "disconnect", "connect", "connect_error")
}

// A replica that does not answer a connect in ConnectTimeout: the client
// gets a connect_error that says so, and the replica drops the socket.
func TestConnectTimeout(t *testing.T) {
	s := newSystem(t)
	hold := newLatch()
	entered := make(chan struct{}, 1)
	b := s.backend("chat", func(b *distributor.Backend) {
		b.Of("/chat").Use(func(s *core.Socket) error {
			entered <- struct{}{}
			hold.wait()
			return nil
		})
	})
	t.Cleanup(hold.open) // before the backend closes
	gw := s.gatewayWith(distributor.GatewayOptions{ConnectTimeout: 300 * time.Millisecond}, "/chat")
	waitBackends(t, gw, "chat", 1)
	s.clients.send(ev{"cmd": "connect", "c": "a", "url": gw.URL(), "nsp": "/chat", "opts": ev{"reconnection": false}})
	e := s.clients.expect("a", "connect_error")
	if e.s("message") != "Namespace unavailable" || jsonOf(e["data"]) != `{"reason":"no answer from backend","service":"chat"}` {
		t.Fatalf("connect_error: %v", e)
	}
	<-entered
	// Told that the client left, the backend drops the connection while
	// the middleware still runs.
	eventually(t, "the backend's connection dropped", func() bool { return b.ConnCount() == 0 })
	hold.open()
	s.quiet(300*time.Millisecond, "connect")
	if n := b.Of("/chat").SocketCount(); n != 0 {
		t.Fatalf("%d sockets on the backend", n)
	}
}

// The dead replica asked the client a question it answers late, after the
// handover, when the new replica has asked one with the same ack id: the
// gateway gives the client another id for the new question, so that the
// answers are not mixed up (the late one is dropped: its caller died).
func TestHandoverLateAnswer(t *testing.T) {
	s := newSystem(t)
	doomed := s.chatProcess()
	gw := s.gateway("/chat")
	waitBackends(t, gw, "chat", 1)
	s.connect("a", gw)
	survivor := s.chat()
	waitBackends(t, gw, "chat", 2)
	if got := s.call("a", "replica"); got != jsonOf(doomed.id) {
		t.Fatalf("served by %s", got)
	}
	// The doomed replica's first question (ack id 0), answered in 4s.
	s.clients.send(ev{"cmd": "emit", "c": "a", "event": "ask-slow", "args": []any{4000}})
	s.clients.event("a", "slow")
	doomed.kill()
	// (What the client sends before the gateway acts goes to the dead
	// replica.)
	eventually(t, "the handover", func() bool { return gw.g.Stats().Handovers == 1 })
	if got := s.call("a", "replica"); got != jsonOf(survivor.ID()) {
		t.Fatalf("served by %s", got)
	}
	// The survivor's first question (its ack id 0 too), answered first.
	if got := s.call("a", "ask-slow", 100); got != `["ack:slow",100]` {
		t.Fatalf("the survivor's question was answered with %s", got)
	}
}

// A replica that took the gateway as gone (its heartbeats did not reach
// it) dropped the gateway's sockets while the gateway still hears the
// replica: the next packet tells the gateway, which hands the socket over
// again, or ends it at the client when that packet asked for an answer.
func TestReplicaLostTheSocket(t *testing.T) {
	s := newSystem(t)
	b := s.chat()
	gw := s.gateway("/chat")
	waitBackends(t, gw, "chat", 1)
	ids := map[string]string{"a": s.connect("a", gw), "b": s.connect("b", gw)}
	b.ForgetGateway(gw.g.ID())
	for _, name := range []string{"a", "b"} {
		if r := s.gone.wait(t, ids[name]); r != "transport close" {
			t.Fatalf("%s on the backend: %s", name, r)
		}
	}
	// a's next event is lost, and has the socket handed over.
	s.emitCounts("a", 1)
	eventually(t, "the handover", func() bool { return gw.g.Stats().Handovers == 1 })
	s.handedOver("a", ids["a"], "")
	// b's asks for an answer that will not come: b's socket is ended.
	s.endedAtClient("b", s.ask("b", "echo", 30*time.Second, 1))
	s.quiet(300*time.Millisecond, "disconnect", "connect")
}

// A replica that closes says goodbye first: its sockets are handed over to
// the other replica at once, and their clients see nothing, except the
// one that waits for an answer from it, whose socket is ended.
func TestReplicaLeaves(t *testing.T) {
	s := newSystem(t)
	leaving := s.chat()
	gw := s.gateway("/chat")
	waitBackends(t, gw, "chat", 1)
	ids := map[string]string{"a": s.connect("a", gw), "b": s.connect("b", gw)}
	other := s.chat()
	waitBackends(t, gw, "chat", 2)
	hang := s.ask("b", "hang", time.Minute)
	s.call("b", "replica") // the hanging event has reached the replica

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := leaving.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s.endedAtClient("b", hang)
	eventually(t, "the handover", func() bool { return gw.g.Stats().Handovers == 1 })
	s.handedOver("a", ids["a"], other.ID())
	// The leaving replica's own socket ended there.
	s.gone.wait(t, ids["a"])
	s.quiet(300*time.Millisecond, "disconnect", "connect")
}
