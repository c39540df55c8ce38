package distributor_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster/distributor"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/transport/peertest"
)

// system is one test's world, built in the order the test needs: a
// redis-server, the official clients under node, the record of the
// disconnects the chat backends see, and then the backends and gateways
// the test adds. Its caller makes the clients' acknowledged calls.
type system struct {
	*caller
	t       *testing.T
	redis   *peertest.Redis
	clients *nodeClients
	gone    *disconnects
}

// newSystem starts Redis and the clients, and checks at the end that no
// goroutine of the test outlives it.
func newSystem(t *testing.T) *system {
	t.Helper()
	checkLeaks(t)
	s := &system{t: t, redis: peertest.StartRedis(t), gone: newDisconnects()}
	s.clients = startClients(t)
	s.caller = &caller{t: t, clients: s.clients}
	return s
}

// backend starts a backend of service, set up by setup.
func (s *system) backend(service string, setup func(*distributor.Backend)) *distributor.Backend {
	s.t.Helper()
	return startBackend(s.t, s.redis.URL(), service, setup)
}

// chat starts a replica of the chat service (chatBackend): the chat
// handlers, then extra on /chat, then the replica handlers.
func (s *system) chat(extra ...func(*core.Namespace)) *distributor.Backend {
	s.t.Helper()
	return s.backend("chat", func(b *distributor.Backend) {
		chatHandlers(b.Of("/chat"), s.gone)
		for _, f := range extra {
			f(b.Of("/chat"))
		}
		replicaHandlers(b)
	})
}

// game starts the backend of the game service.
func (s *system) game() *distributor.Backend {
	s.t.Helper()
	return gameBackend(s.t, s.redis.URL())
}

// chatProcess starts a replica of the chat service in a child process,
// for the test to kill.
func (s *system) chatProcess() *nodeProcess {
	s.t.Helper()
	return startNode(s.t, "backend", "chat", s.redis.URL())
}

// gateway starts a gateway that forwards each of nsps ("/chat") to the
// service of the same name ("chat").
func (s *system) gateway(nsps ...string) *gateway {
	s.t.Helper()
	return s.gatewayWith(distributor.GatewayOptions{}, nsps...)
}

// gatewayWith is gateway with more options.
func (s *system) gatewayWith(opts distributor.GatewayOptions, nsps ...string) *gateway {
	s.t.Helper()
	opts.Namespaces = map[string]string{}
	for _, n := range nsps {
		opts.Namespaces[n] = strings.TrimPrefix(n, "/")
	}
	return startGatewayWith(s.t, s.redis.URL(), opts, nil)
}

// connect connects client name to /chat through gw, with the chat's
// token, and returns its socket id.
func (s *system) connect(name string, gw *gateway) string {
	s.t.Helper()
	s.clients.connect(name, gw.URL(), "/chat", ev{"token": "secret"})
	return s.clients.expect(name, "connect").s("id")
}

// spread connects n clients c0… through gw, each one connection carrying
// /chat (client "cK") and /game (client "cKg"). It returns the chat
// clients by the replica that serves them (as "replica" answers), and
// their socket ids.
func (s *system) spread(gw *gateway, n int) (on map[string][]string, ids map[string]string) {
	s.t.Helper()
	on, ids = map[string][]string{}, map[string]string{}
	for k := range n {
		name := fmt.Sprintf("c%d", k)
		s.clients.send(ev{"cmd": "connect", "c": name, "mgr": name, "url": gw.URL(), "nsp": "/chat", "auth": ev{"token": "secret"}})
		s.clients.send(ev{"cmd": "connect", "c": name + "g", "mgr": name, "url": gw.URL(), "nsp": "/game"})
		ids[name] = s.clients.expect(name, "connect").s("id")
		s.clients.expect(name+"g", "connect")
		r := s.call(name, "replica")
		on[r] = append(on[r], name)
	}
	return on, ids
}

// playAll checks that the /game socket of each of the n clients of
// spread is served.
func (s *system) playAll(n int) {
	s.t.Helper()
	for k := range n {
		if got := s.call(fmt.Sprintf("c%dg", k), "play", "e4"); got != `"played e4"` {
			s.t.Fatalf("c%dg: %s", k, got)
		}
	}
}

// ask sends client's acknowledged event without waiting for the answer,
// and returns the seq of the ack to wait for.
func (c *caller) ask(client, event string, timeout time.Duration, args ...any) int {
	c.t.Helper()
	c.seq++
	if args == nil {
		args = []any{}
	}
	c.clients.send(ev{"cmd": "emit", "c": client, "seq": c.seq, "event": event, "args": args, "ack": true, "timeout": timeout.Milliseconds()})
	return c.seq
}

// emitCounts has client emit ("count", i) for i < n, without acks.
func (s *system) emitCounts(client string, n int) {
	for i := range n {
		s.clients.send(ev{"cmd": "emit", "c": client, "event": "count", "args": []any{i}})
	}
}

// counted checks that the replica serving client saw the counts 0…n-1 of
// emitCounts, in order.
func (s *system) counted(client string, n int) {
	s.t.Helper()
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if got := s.call(client, "counted"); got != jsonOf(want) {
		s.t.Fatalf("%s: the replica saw %s", client, got)
	}
}

// handedOver checks that client's socket is the one of id at the client,
// now served by replica (any, when empty) as a socket handed over.
func (s *system) handedOver(client, id, replica string) {
	s.t.Helper()
	if got := s.call(client, "whoami"); got != jsonOf(id) {
		s.t.Fatalf("%s: socket %s on the replica, %s at the client", client, got, id)
	}
	if replica != "" {
		if got := s.call(client, "replica"); got != jsonOf(replica) {
			s.t.Fatalf("%s is served by %s, want %s", client, got, replica)
		}
	}
	if got := s.call(client, "handedover"); got != "true" {
		s.t.Fatalf("%s: handed over: %s", client, got)
	}
}

// endedAtClient checks that client's socket was ended by the server ("io
// server disconnect"), failing its pending ack seq.
func (s *system) endedAtClient(client string, seq int) {
	s.t.Helper()
	if r := s.clients.expect(client, "disconnect").s("reason"); r != "io server disconnect" {
		s.t.Fatalf("%s: disconnect reason %q", client, r)
	}
	if a := s.clients.ack(client, seq); a.s("err") != "socket has been disconnected" {
		s.t.Fatalf("%s: pending ack ended with %v", client, a)
	}
}

// quiet fails when a client event of one of kinds ("disconnect",
// "connect", "connect_error") arrives within d.
func (s *system) quiet(d time.Duration, kinds ...string) {
	s.t.Helper()
	s.clients.none(d, strings.Join(kinds, " or "), func(e ev) bool {
		for _, k := range kinds {
			if e.s("ev") == k {
				return true
			}
		}
		return false
	})
}

// latch holds handlers until it is opened, by the test or when it ends.
// Register open as a cleanup after the backend whose handlers wait, so
// that it opens before that backend closes.
type latch struct {
	c    chan struct{}
	once sync.Once
}

func newLatch() *latch { return &latch{c: make(chan struct{})} }

func (l *latch) wait() { <-l.c }

func (l *latch) open() { l.once.Do(func() { close(l.c) }) }
