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

// A replica killed mid-run: the sessions of its clients close, every
// acknowledgement they waited for fails at once with the client's own
// error, they reconnect by themselves to the surviving replica, and the
// survivor's clients notice nothing. A replica started later takes new
// connections.
func TestReplicaDies(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gone := newDisconnects()
	doomed := startNode(t, "backend", "chat", redis.URL())
	survivor := chatBackend(t, redis.URL(), gone)
	gw := startGateway(t, redis.URL(), map[string]string{"/chat": "chat"}, nil)
	waitBackends(t, gw, "chat", 2)
	c := &caller{t: t, clients: clients}

	const n = 6
	on := map[string][]string{}
	for k := range n {
		name := fmt.Sprintf("c%d", k)
		clients.connect(name, gw.URL(), "/chat", ev{"token": "secret"})
		clients.expect(name, "connect")
		r := c.call(name, "replica")
		on[r] = append(on[r], name)
	}
	victims, spared := on[jsonOf(doomed.id)], on[jsonOf(survivor.ID())]
	if len(victims) == 0 || len(spared) == 0 {
		t.Fatalf("sockets per replica: %v", on)
	}
	// Each victim waits for an answer that will never come.
	seqs := map[string]int{}
	for _, name := range victims {
		c.seq++
		seqs[name] = c.seq
		clients.send(ev{"cmd": "emit", "c": name, "seq": c.seq, "event": "hang", "args": []any{}, "ack": true, "timeout": 60000})
	}
	// Let the hanging events reach the doomed replica before it dies.
	eventually(t, "events delivered", func() bool { return gw.g.Stats().Published > 0 })
	killed := time.Now()
	doomed.kill()

	for _, name := range victims {
		if r := clients.expect(name, "disconnect").s("reason"); r != "transport close" {
			t.Fatalf("%s: disconnect reason %q", name, r)
		}
		if a := clients.ack(name, seqs[name]); a.s("err") != "socket has been disconnected" {
			t.Fatalf("%s: pending ack ended with %v", name, a)
		}
	}
	t.Logf("the replica's death was acted on after %v", time.Since(killed).Round(time.Millisecond))
	for _, name := range victims {
		clients.expect(name, "connect") // by itself
		if got := c.call(name, "replica"); got != jsonOf(survivor.ID()) {
			t.Fatalf("%s reconnected to %s", name, got)
		}
	}
	for _, name := range spared {
		if got := c.call(name, "echo", "still here"); got != `"still here"` {
			t.Fatalf("%s: %s", name, got)
		}
	}
	clients.none(200*time.Millisecond, "a disconnect of a survivor's client", func(e ev) bool {
		if e.s("ev") != "disconnect" {
			return false
		}
		for _, s := range spared {
			if e.s("c") == s {
				return true
			}
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
