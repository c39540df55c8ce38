package distributor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster/distributor"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/transport/peertest"
)

// chatBackend is a replica of the chat service; "replica" answers its id.
func chatBackend(t *testing.T, url string, gone *disconnects) *distributor.Backend {
	return startBackend(t, url, "chat", func(b *distributor.Backend) {
		chatHandlers(b.Of("/chat"), gone)
		replicaHandlers(b)
	})
}

// replicaHandlers: "replica" answers the id of the backend serving the
// socket, "handedover" whether it came to it from a replica that died.
// Every socket is in the room "everyone", joined on connect, as an
// application joins its rooms: so on a handover too; "announce" emits
// there.
func replicaHandlers(b *distributor.Backend) {
	nsp := b.Of("/chat")
	nsp.OnConnection(func(s *core.Socket) {
		s.Join("everyone")
		handedOver := s.HandedOver()
		s.On("replica", func(e *core.Event) { _ = e.Ack(b.ID()) })
		s.On("handedover", func(e *core.Event) { _ = e.Ack(handedOver) })
		s.On("ask-slow", func(e *core.Event) {
			// Asks the client a question it answers after ms.
			var ms int
			_ = e.Bind(&ms)
			res, err := s.Timeout(10*time.Second).EmitWithAck(context.Background(), "slow", ms)
			if err != nil {
				_ = e.Ack("error: " + err.Error())
				return
			}
			_ = e.Ack(res.Values()) // the client's answer, as one array
		})
		s.On("announce", func(e *core.Event) {
			var msg string
			_ = e.Bind(&msg)
			_ = e.Ack(nsp.To("everyone").Emit("announced", msg) == nil)
		})
	})
}

func gameBackend(t *testing.T, url string) *distributor.Backend {
	return startBackend(t, url, "game", func(b *distributor.Backend) {
		b.Of("/game").OnConnection(func(s *core.Socket) {
			s.On("play", func(e *core.Event) {
				var move string
				_ = e.Bind(&move)
				_ = e.Ack("played " + move)
			})
		})
	})
}

func waitBackends(t *testing.T, g *gateway, service string, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d replicas of %s", n, service), func() bool { return len(g.g.Backends(service)) == n })
}

// caller makes acknowledged calls from the node clients.
type caller struct {
	t       *testing.T
	clients *nodeClients
	seq     int
}

func (c *caller) call(client, event string, args ...any) string {
	c.t.Helper()
	c.seq++
	if args == nil {
		args = []any{}
	}
	c.clients.send(ev{"cmd": "emit", "c": client, "seq": c.seq, "event": event, "args": args, "ack": true, "timeout": 10000})
	r := c.clients.ack(client, c.seq)
	if r["err"] != nil {
		c.t.Fatalf("%s %s: %v", client, event, r["err"])
	}
	return jsonOf(r["args"].([]any)[0])
}

func TestTwoGatewaysThreeBackends(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gone := newDisconnects()
	chat1 := chatBackend(t, redis.URL(), gone)
	chat2 := chatBackend(t, redis.URL(), gone)
	gameBackend(t, redis.URL())
	nsps := map[string]string{"/chat": "chat", "/game": "game"}
	gws := []*gateway{startGateway(t, redis.URL(), nsps, nil), startGateway(t, redis.URL(), nsps, nil)}
	for _, g := range gws {
		waitBackends(t, g, "chat", 2)
		waitBackends(t, g, "game", 1)
	}
	c := &caller{t: t, clients: clients}

	// Each client: one connection to one gateway, carrying both namespaces.
	const n = 6
	names := make([]string, n)
	ids := map[string]string{}
	perReplica := map[string]int{}
	for k := range n {
		names[k] = fmt.Sprintf("c%d", k)
		url := gws[k%2].URL()
		clients.send(ev{"cmd": "connect", "c": names[k], "mgr": names[k], "url": url, "nsp": "/chat", "auth": ev{"token": "secret"}})
		clients.send(ev{"cmd": "connect", "c": names[k] + "g", "mgr": names[k], "url": url, "nsp": "/game"})
	}
	for _, name := range names {
		ids[name] = clients.expect(name, "connect").s("id")
		clients.expect(name+"g", "connect")
		perReplica[c.call(name, "replica")]++
		if got := c.call(name+"g", "play", "e4"); got != `"played e4"` {
			t.Fatalf("%s game: %s", name, got)
		}
	}
	if perReplica[jsonOf(chat1.ID())] == 0 || perReplica[jsonOf(chat2.ID())] == 0 {
		t.Fatalf("sockets per replica: %v", perReplica)
	}

	// A broadcast from one replica reaches every client once, whichever
	// replica and gateway serve it.
	for _, name := range names {
		c.call(name, "join", "all")
	}
	c.call(names[0], "shout", "all", "hello")
	for _, name := range names {
		clients.event(name, "shouted")
	}
	clients.none(500*time.Millisecond, "second copy of a broadcast", func(e ev) bool { return e.s("name") == "shouted" })
	// Broadcast acknowledgements are collected across the replicas.
	if got := c.call(names[1], "poll"); got != fmt.Sprint(n) {
		t.Fatalf("poll answers: %s", got)
	}
	for _, name := range names {
		clients.event(name, "vote")
	}
	// FetchSockets sees the sockets of both replicas.
	if got := c.call(names[2], "fetch"); len(got) < 2 {
		t.Fatalf("fetch: %s", got)
	} else {
		for _, id := range ids {
			if !contains(got, id) {
				t.Fatalf("fetch %s misses %s", got, id)
			}
		}
	}

	// Per-socket order, both ways.
	const burst = 200
	for _, name := range names {
		for i := range burst {
			clients.send(ev{"cmd": "emit", "c": name, "event": "count", "args": []any{i}})
		}
	}
	want := make([]int, burst)
	for i := range want {
		want[i] = i
	}
	for _, name := range names {
		if got := c.call(name, "counted"); got != jsonOf(want) {
			t.Fatalf("%s: the backend saw %s", name, got)
		}
		c.call(name, "burst", burst)
		for i := range burst {
			e := clients.event(name, "tick")
			if got := jsonOf(e["args"]); got != fmt.Sprintf("[%d]", i) {
				t.Fatalf("%s: tick %d came as %s", name, i, got)
			}
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
