package distributor_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster/distributor"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/transport/peertest"
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
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gone := newDisconnects()
	doomed := startNode(t, "backend", "chat", redis.URL())
	// The survivor holds the handovers in a middleware until the test has
	// sent events behind them, so that those wait at the gateway.
	entered := make(chan string, 16)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	survivor := startBackend(t, redis.URL(), "chat", func(b *distributor.Backend) {
		nsp := b.Of("/chat")
		chatHandlers(nsp, gone)
		nsp.Use(func(s *core.Socket) error {
			if s.HandedOver() {
				entered <- s.ID()
				<-release
			}
			return nil
		})
		replicaHandlers(b)
	})
	t.Cleanup(unblock) // before the backend closes
	gameBackend(t, redis.URL())
	gw := startGateway(t, redis.URL(), map[string]string{"/chat": "chat", "/game": "game"}, nil)
	waitBackends(t, gw, "chat", 2)
	waitBackends(t, gw, "game", 1)
	c := &caller{t: t, clients: clients}

	// Each client: one connection carrying /chat and /game.
	const n = 6
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
	if len(victims) < 2 || len(spared) == 0 {
		t.Fatalf("sockets per replica: %v", on)
	}
	// One victim waits for an answer that the doomed replica will never
	// give; the call after it proves the event has reached the replica.
	hanging, moved := victims[0], victims[1:]
	c.seq++
	hangSeq := c.seq
	clients.send(ev{"cmd": "emit", "c": hanging, "seq": hangSeq, "event": "hang", "args": []any{}, "ack": true, "timeout": 60000})
	c.call(hanging, "replica")
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
		for i := range burst {
			clients.send(ev{"cmd": "emit", "c": name, "event": "count", "args": []any{i}})
		}
	}
	// Meanwhile the socket with an answer pending is ended at the client.
	if r := clients.expect(hanging, "disconnect").s("reason"); r != "io server disconnect" {
		t.Fatalf("%s: disconnect reason %q", hanging, r)
	}
	if a := clients.ack(hanging, hangSeq); a.s("err") != "socket has been disconnected" {
		t.Fatalf("%s: pending ack ended with %v", hanging, a)
	}
	unblock()

	want := make([]int, burst)
	for i := range want {
		want[i] = i
	}
	for _, name := range moved {
		if got := c.call(name, "counted"); got != jsonOf(want) {
			t.Fatalf("%s: the survivor saw %s", name, got)
		}
		if got := c.call(name, "whoami"); got != jsonOf(ids[name]) {
			t.Fatalf("%s: socket %s on the survivor, %s at the client", name, got, ids[name])
		}
		if got := c.call(name, "replica"); got != jsonOf(survivor.ID()) {
			t.Fatalf("%s is served by %s", name, got)
		}
		if got := c.call(name, "handedover"); got != "true" {
			t.Fatalf("%s: handed over: %s", name, got)
		}
	}
	for _, name := range spared {
		if got := c.call(name, "handedover"); got != "false" {
			t.Fatalf("%s: handed over: %s", name, got)
		}
	}
	// A broadcast after the handover reaches every chat client once.
	if got := c.call(spared[0], "announce", "hi"); got != "true" {
		t.Fatalf("announce: %s", got)
	}
	for _, name := range append(append([]string{}, spared...), moved...) {
		if e := clients.event(name, "announced"); jsonOf(e["args"]) != `["hi"]` {
			t.Fatalf("%s: %v", name, e)
		}
	}
	// Every client's other namespace goes on.
	for k := range n {
		if got := c.call(fmt.Sprintf("c%dg", k), "play", "e4"); got != `"played e4"` {
			t.Fatalf("c%dg: %s", k, got)
		}
	}
	clients.none(500*time.Millisecond, "a second copy of a broadcast, a disconnect or a connect", func(e ev) bool {
		switch e.s("ev") {
		case "event":
			return e.s("name") == "announced"
		case "disconnect", "connect", "connect_error":
			return true
		}
		return false
	})

	// A new replica takes its share of new connections.
	fresh := chatBackend(t, redis.URL(), gone)
	waitBackends(t, gw, "chat", 2)
	clients.connect("late", gw.URL(), "/chat", ev{"token": "secret"})
	clients.expect("late", "connect")
	if got := c.call("late", "replica"); got != jsonOf(fresh.ID()) {
		t.Fatalf("a new connect went to %s, not to the fresh replica", got)
	}
}

// A gateway killed: the backends end its sockets ("transport close"), a
// backend waiting for one of its clients' answers gets
// ErrDisconnected, and the clients reconnect through the other gateway.
func TestGatewayDies(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gone := newDisconnects()
	asked := make(chan error, 1)
	startBackend(t, redis.URL(), "chat", func(b *distributor.Backend) {
		nsp := b.Of("/chat")
		chatHandlers(nsp, gone)
		nsp.OnConnection(func(s *core.Socket) {
			s.On("ask-forever", func(e *core.Event) {
				// An answer that never comes: the client is told not to.
				_, err := s.EmitWithAck(context.Background(), "silent")
				asked <- err
			})
		})
	})
	doomed := startNode(t, "gateway", redis.URL())
	other := startGateway(t, redis.URL(), map[string]string{"/chat": "chat"}, nil)
	waitReady(t, other, "chat")
	c := &caller{t: t, clients: clients}

	clients.send(ev{"cmd": "connect", "c": "a", "url": doomed.URL(), "nsp": "/chat", "auth": ev{"token": "secret"},
		// Reconnects go to the other gateway, as behind a load balancer
		// that dropped the dead one.
		"fallback": other.URL()})
	aID := clients.expect("a", "connect").s("id")
	clients.send(ev{"cmd": "emit", "c": "a", "event": "ask-forever", "args": []any{}})
	clients.event("a", "silent")
	doomed.kill()

	if r := gone.wait(t, aID); r != "transport close" {
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
	clients.expect("a", "disconnect")
	clients.expect("a", "connect")
	if got := c.call("a", "echo", 1); got != "1" {
		t.Fatalf("after the reconnect: %s", got)
	}
}

// A client that floods a socket whose handler blocks: the backend cannot
// make the gateway stop reading, so past a bound its session is closed,
// and the backend's memory stays bounded.
func TestFloodAtBlockedHandler(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	gone := newDisconnects()
	b := startBackend(t, redis.URL(), "chat", func(b *distributor.Backend) {
		nsp := b.Of("/chat")
		chatHandlers(nsp, gone)
		nsp.OnConnection(func(s *core.Socket) {
			s.On("block", func(e *core.Event) { <-release })
		})
	})
	t.Cleanup(unblock) // before the backend closes
	gw := startGateway(t, redis.URL(), map[string]string{"/chat": "chat"}, nil)
	waitReady(t, gw, "chat")
	clients.send(ev{"cmd": "connect", "c": "a", "url": gw.URL(), "nsp": "/chat", "auth": ev{"token": "secret"}, "opts": ev{"reconnection": false}})
	id := clients.expect("a", "connect").s("id")
	clients.send(ev{"cmd": "emit", "c": "a", "event": "block", "args": []any{}})
	for i := range 3000 {
		clients.send(ev{"cmd": "emit", "c": "a", "event": "count", "args": []any{i}})
	}
	if r := clients.expect("a", "disconnect").s("reason"); r != "transport close" {
		t.Fatalf("client: %s", r)
	}
	// The socket has left at once; its disconnect handlers run after the
	// turns queued before, the blocked one first.
	eventually(t, "the socket gone", func() bool { return b.Of("/chat").SocketCount() == 0 })
	unblock()
	if r := gone.wait(t, id); r != "forced close" {
		t.Fatalf("backend: %s", r)
	}
}
