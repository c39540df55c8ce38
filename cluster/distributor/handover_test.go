package distributor_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster/distributor"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/transport/peertest"
)

// The survivor refuses the sockets handed over to it (a middleware's
// error): each is ended at its client with a DISCONNECT of that namespace
// ("io server disconnect"), the client's other namespace goes on, and the
// application's socket.connect() connects it again, as a new socket.
func TestHandoverRefused(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gone := newDisconnects()
	doomed := startNode(t, "backend", "chat", redis.URL())
	survivor := startBackend(t, redis.URL(), "chat", func(b *distributor.Backend) {
		nsp := b.Of("/chat")
		chatHandlers(nsp, gone)
		nsp.Use(func(s *core.Socket) error {
			if s.HandedOver() {
				return &core.ConnectError{Message: "no handovers here"}
			}
			return nil
		})
		replicaHandlers(b)
	})
	gameBackend(t, redis.URL())
	gw := startGateway(t, redis.URL(), map[string]string{"/chat": "chat", "/game": "game"}, nil)
	waitBackends(t, gw, "chat", 2)
	waitBackends(t, gw, "game", 1)
	c := &caller{t: t, clients: clients}

	const n = 4
	on := map[string][]string{}
	ids := map[string]string{}
	for k := range n {
		name := fmt.Sprintf("c%d", k)
		clients.send(ev{"cmd": "connect", "c": name, "mgr": name, "url": gw.URL(), "nsp": "/chat", "auth": ev{"token": "secret"}})
		clients.send(ev{"cmd": "connect", "c": name + "g", "mgr": name, "url": gw.URL(), "nsp": "/game"})
		ids[name] = clients.expect(name, "connect").s("id")
		clients.expect(name+"g", "connect")
		r := c.call(name, "replica")
		on[r] = append(on[r], name)
	}
	victims, spared := on[jsonOf(doomed.id)], on[jsonOf(survivor.ID())]
	if len(victims) == 0 || len(spared) == 0 {
		t.Fatalf("sockets per replica: %v", on)
	}
	doomed.kill()
	for _, name := range victims {
		if r := clients.expect(name, "disconnect").s("reason"); r != "io server disconnect" {
			t.Fatalf("%s: disconnect reason %q", name, r)
		}
	}
	for k := range n {
		if got := c.call(fmt.Sprintf("c%dg", k), "play", "e4"); got != `"played e4"` {
			t.Fatalf("c%dg: %s", k, got)
		}
	}
	for _, name := range spared {
		if got := c.call(name, "echo", "still here"); got != `"still here"` {
			t.Fatalf("%s: %s", name, got)
		}
	}
	if s := gw.g.Stats(); s.Handovers != uint64(len(victims)) || s.EndedSockets != uint64(len(victims)) {
		t.Fatalf("stats: %+v", s)
	}
	// The application connects the socket again: a new socket.
	for _, name := range victims {
		clients.send(ev{"cmd": "reconnect", "c": name})
		if id := clients.expect(name, "connect").s("id"); id == ids[name] || id == "" {
			t.Fatalf("%s: connected again as %q (was %q)", name, id, ids[name])
		}
		if got := c.call(name, "handedover"); got != "false" {
			t.Fatalf("%s: handed over: %s", name, got)
		}
	}
	clients.none(300*time.Millisecond, "another disconnect or connect", func(e ev) bool {
		return e.s("ev") == "disconnect" || e.s("ev") == "connect" || e.s("ev") == "connect_error"
	})
}

// The only replica dies and a new one comes within ConnectWait: its
// sockets wait at the gateway, holding what their clients send, and are
// handed over to the new replica. The client sees nothing.
func TestHandoverToAReplicaThatComesBack(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gone := newDisconnects()
	doomed := startNode(t, "backend", "chat", redis.URL())
	gw := startGateway(t, redis.URL(), map[string]string{"/chat": "chat"}, nil)
	waitBackends(t, gw, "chat", 1)
	c := &caller{t: t, clients: clients}
	clients.connect("a", gw.URL(), "/chat", ev{"token": "secret"})
	id := clients.expect("a", "connect").s("id")
	c.call("a", "join", "lobby")

	doomed.kill()
	eventually(t, "the socket waiting for a replica", func() bool { return gw.g.Stats().Handovers == 1 })
	const burst = 30
	for i := range burst {
		clients.send(ev{"cmd": "emit", "c": "a", "event": "count", "args": []any{i}})
	}
	fresh := chatBackend(t, redis.URL(), gone)
	want := make([]int, burst)
	for i := range want {
		want[i] = i
	}
	if got := c.call("a", "counted"); got != jsonOf(want) {
		t.Fatalf("the new replica saw %s", got)
	}
	if got := c.call("a", "whoami"); got != jsonOf(id) {
		t.Fatalf("socket %s on the new replica, %s at the client", got, id)
	}
	if got := c.call("a", "replica"); got != jsonOf(fresh.ID()) {
		t.Fatalf("served by %s", got)
	}
	if got := c.call("a", "handedover"); got != "true" {
		t.Fatalf("handed over: %s", got)
	}
	clients.none(300*time.Millisecond, "a disconnect or connect", func(e ev) bool {
		return e.s("ev") == "disconnect" || e.s("ev") == "connect" || e.s("ev") == "connect_error"
	})
}

// A replica that does not answer a connect in ConnectTimeout: the client
// gets a connect_error that says so, and the replica drops the socket.
func TestConnectTimeout(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	entered := make(chan struct{}, 1)
	b := startBackend(t, redis.URL(), "chat", func(b *distributor.Backend) {
		b.Of("/chat").Use(func(s *core.Socket) error {
			entered <- struct{}{}
			<-release
			return nil
		})
	})
	t.Cleanup(unblock) // before the backend closes
	gw := startGatewayWith(t, redis.URL(), distributor.GatewayOptions{
		Namespaces:     map[string]string{"/chat": "chat"},
		ConnectTimeout: 300 * time.Millisecond,
	}, nil)
	waitBackends(t, gw, "chat", 1)
	clients.send(ev{"cmd": "connect", "c": "a", "url": gw.URL(), "nsp": "/chat", "opts": ev{"reconnection": false}})
	e := clients.expect("a", "connect_error")
	if e.s("message") != "Namespace unavailable" || jsonOf(e["data"]) != `{"reason":"no answer from backend","service":"chat"}` {
		t.Fatalf("connect_error: %v", e)
	}
	<-entered
	// Told that the client left, the backend drops the connection while
	// the middleware still runs.
	eventually(t, "the backend's connection dropped", func() bool { return b.ConnCount() == 0 })
	unblock()
	clients.none(300*time.Millisecond, "a connect", func(e ev) bool { return e.s("ev") == "connect" })
	if n := b.Of("/chat").SocketCount(); n != 0 {
		t.Fatalf("%d sockets on the backend", n)
	}
}

// The dead replica asked the client a question it answers late, after the
// handover, when the new replica has asked one with the same ack id: the
// gateway gives the client another id for the new question, so that the
// answers are not mixed up (the late one is dropped: its caller died).
func TestHandoverLateAnswer(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gone := newDisconnects()
	doomed := startNode(t, "backend", "chat", redis.URL())
	gw := startGateway(t, redis.URL(), map[string]string{"/chat": "chat"}, nil)
	waitBackends(t, gw, "chat", 1)
	c := &caller{t: t, clients: clients}
	clients.connect("a", gw.URL(), "/chat", ev{"token": "secret"})
	clients.expect("a", "connect")
	survivor := chatBackend(t, redis.URL(), gone)
	waitBackends(t, gw, "chat", 2)
	if got := c.call("a", "replica"); got != jsonOf(doomed.id) {
		t.Fatalf("served by %s", got)
	}
	// The doomed replica's first question (ack id 0), answered in 4s.
	clients.send(ev{"cmd": "emit", "c": "a", "event": "ask-slow", "args": []any{4000}})
	clients.event("a", "slow")
	doomed.kill()
	// (What the client sends before the gateway acts goes to the dead
	// replica.)
	eventually(t, "the handover", func() bool { return gw.g.Stats().Handovers == 1 })
	if got := c.call("a", "replica"); got != jsonOf(survivor.ID()) {
		t.Fatalf("served by %s", got)
	}
	// The survivor's first question (its ack id 0 too), answered first.
	if got := c.call("a", "ask-slow", 100); got != `["ack:slow",100]` {
		t.Fatalf("the survivor's question was answered with %s", got)
	}
}

// A replica that took the gateway as gone (its heartbeats did not reach
// it) dropped the gateway's sockets while the gateway still hears the
// replica: the next packet tells the gateway, which hands the socket over
// again, or ends it at the client when that packet asked for an answer.
func TestReplicaLostTheSocket(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gone := newDisconnects()
	b := chatBackend(t, redis.URL(), gone)
	gw := startGateway(t, redis.URL(), map[string]string{"/chat": "chat"}, nil)
	waitBackends(t, gw, "chat", 1)
	c := &caller{t: t, clients: clients}
	ids := map[string]string{}
	for _, name := range []string{"a", "b"} {
		clients.connect(name, gw.URL(), "/chat", ev{"token": "secret"})
		ids[name] = clients.expect(name, "connect").s("id")
	}
	b.ForgetGateway(gw.g.ID())
	for _, name := range []string{"a", "b"} {
		if r := gone.wait(t, ids[name]); r != "transport close" {
			t.Fatalf("%s on the backend: %s", name, r)
		}
	}
	// a's next event is lost, and has the socket handed over.
	clients.send(ev{"cmd": "emit", "c": "a", "event": "count", "args": []any{0}})
	eventually(t, "the handover", func() bool { return gw.g.Stats().Handovers == 1 })
	if got := c.call("a", "whoami"); got != jsonOf(ids["a"]) {
		t.Fatalf("a: socket %s on the backend, %s at the client", got, ids["a"])
	}
	if got := c.call("a", "handedover"); got != "true" {
		t.Fatalf("a: handed over: %s", got)
	}
	// b's asks for an answer that will not come: b's socket is ended.
	c.seq++
	clients.send(ev{"cmd": "emit", "c": "b", "seq": c.seq, "event": "echo", "args": []any{1}, "ack": true, "timeout": 30000})
	if r := clients.expect("b", "disconnect").s("reason"); r != "io server disconnect" {
		t.Fatalf("b: disconnect reason %q", r)
	}
	if a := clients.ack("b", c.seq); a.s("err") != "socket has been disconnected" {
		t.Fatalf("b: pending ack ended with %v", a)
	}
	clients.none(300*time.Millisecond, "another disconnect or connect", func(e ev) bool {
		return e.s("ev") == "disconnect" || e.s("ev") == "connect"
	})
}

// A replica that closes says goodbye first: its sockets are handed over to
// the other replica at once, and their clients see nothing, except the
// one that waits for an answer from it, whose socket is ended.
func TestReplicaLeaves(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gone := newDisconnects()
	leaving := chatBackend(t, redis.URL(), gone)
	gw := startGateway(t, redis.URL(), map[string]string{"/chat": "chat"}, nil)
	waitBackends(t, gw, "chat", 1)
	c := &caller{t: t, clients: clients}
	ids := map[string]string{}
	for _, name := range []string{"a", "b"} {
		clients.connect(name, gw.URL(), "/chat", ev{"token": "secret"})
		ids[name] = clients.expect(name, "connect").s("id")
	}
	other := chatBackend(t, redis.URL(), gone)
	waitBackends(t, gw, "chat", 2)
	c.seq++
	hangSeq := c.seq
	clients.send(ev{"cmd": "emit", "c": "b", "seq": hangSeq, "event": "hang", "args": []any{}, "ack": true, "timeout": 60000})
	c.call("b", "replica") // the hanging event has reached the replica

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := leaving.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if r := clients.expect("b", "disconnect").s("reason"); r != "io server disconnect" {
		t.Fatalf("b: disconnect reason %q", r)
	}
	if a := clients.ack("b", hangSeq); a.s("err") != "socket has been disconnected" {
		t.Fatalf("b: pending ack ended with %v", a)
	}
	eventually(t, "the handover", func() bool { return gw.g.Stats().Handovers == 1 })
	if got := c.call("a", "whoami"); got != jsonOf(ids["a"]) {
		t.Fatalf("a: socket %s on the other replica, %s at the client", got, ids["a"])
	}
	if got := c.call("a", "replica"); got != jsonOf(other.ID()) {
		t.Fatalf("a is served by %s", got)
	}
	if got := c.call("a", "handedover"); got != "true" {
		t.Fatalf("a: handed over: %s", got)
	}
	// The leaving replica's own socket ended there.
	gone.wait(t, ids["a"])
	clients.none(300*time.Millisecond, "another disconnect or connect", func(e ev) bool {
		return e.s("ev") == "disconnect" || e.s("ev") == "connect"
	})
}
