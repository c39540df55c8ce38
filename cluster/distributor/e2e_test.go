package distributor_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster/distributor"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
	"github.com/sio-go/sio/transport/peertest"
)

// disconnects records the reasons the backend's disconnect handlers saw.
type disconnects struct {
	mu   sync.Mutex
	seen map[string]string // socket id -> reason
	note chan struct{}
}

func newDisconnects() *disconnects {
	return &disconnects{seen: map[string]string{}, note: make(chan struct{})}
}

func (d *disconnects) add(id, reason string) {
	d.mu.Lock()
	d.seen[id] = reason
	close(d.note)
	d.note = make(chan struct{})
	d.mu.Unlock()
}

func (d *disconnects) wait(t *testing.T, id string) string {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		d.mu.Lock()
		r, ok := d.seen[id]
		note := d.note
		d.mu.Unlock()
		if ok {
			return r
		}
		select {
		case <-note:
		case <-deadline:
			t.Fatalf("socket %s: no disconnect on the backend", id)
		}
	}
}

// chatHandlers are ordinary namespace handlers: nothing in them knows that
// the clients are connected to another process.
func chatHandlers(nsp *core.Namespace, gone *disconnects) {
	nsp.Use(func(s *core.Socket) error {
		var auth struct {
			Token string `json:"token"`
		}
		_ = s.Handshake().Auth.Bind(&auth)
		if auth.Token != "secret" {
			return &core.ConnectError{Message: "unauthorized", Data: map[string]any{"code": 401}}
		}
		return nil
	})
	nsp.OnConnection(func(s *core.Socket) {
		s.OnDisconnect(func(reason string) { gone.add(s.ID(), reason) })
		s.On("whoami", func(e *core.Event) { _ = e.Ack(s.ID()) })
		s.On("echo", func(e *core.Event) { _ = e.Ack(e.Args.Values()...) })
		s.On("join", func(e *core.Event) {
			var room string
			_ = e.Bind(&room)
			s.Join(room)
			_ = e.Ack(s.Rooms())
		})
		s.On("leave", func(e *core.Event) {
			var room string
			_ = e.Bind(&room)
			s.Leave(room)
			_ = e.Ack(true)
		})
		s.On("shout", func(e *core.Event) {
			var room, msg string
			_ = e.Bind(&room, &msg)
			_ = nsp.To(room).Emit("shouted", msg, s.ID())
			_ = e.Ack(true)
		})
		s.On("gossip", func(e *core.Event) {
			var room, msg string
			_ = e.Bind(&room, &msg)
			_ = s.To(room).Emit("gossiped", msg) // everyone in room but s
			_ = e.Ack(true)
		})
		s.On("ask", func(e *core.Event) {
			// Waits for this same client's answer inside a handler.
			res, err := s.Timeout(5*time.Second).EmitWithAck(context.Background(), "question", 42)
			if err != nil {
				_ = e.Ack("error: " + err.Error())
				return
			}
			var answer string
			_ = res.Bind(&answer)
			_ = e.Ack(answer)
		})
		s.On("poll", func(e *core.Event) {
			res, err := nsp.Timeout(5*time.Second).EmitWithAck(context.Background(), "vote")
			if err != nil {
				_ = e.Ack("error: " + err.Error())
				return
			}
			_ = e.Ack(len(res))
		})
		s.On("fetch", func(e *core.Event) {
			ss, err := nsp.FetchSockets(context.Background())
			if err != nil {
				_ = e.Ack("error: " + err.Error())
				return
			}
			var ids []string
			for _, r := range ss {
				ids = append(ids, r.ID)
			}
			sort.Strings(ids)
			_ = e.Ack(ids)
		})
		s.On("kick", func(e *core.Event) { s.Disconnect(false) })
		s.On("hang", func(e *core.Event) {}) // never answers
		// Order: the numbers a client sends, as the handlers saw them,
		// and a burst of numbered events back.
		var counted []int
		s.On("count", func(e *core.Event) {
			var n int
			_ = e.Bind(&n)
			counted = append(counted, n) // turns of one socket run one at a time
		})
		s.On("counted", func(e *core.Event) { _ = e.Ack(counted) })
		s.On("burst", func(e *core.Event) {
			var n int
			_ = e.Bind(&n)
			for i := 0; i < n; i++ {
				_ = s.Emit("tick", i)
			}
			_ = e.Ack(n)
		})
		s.On("binary", func(e *core.Event) {
			var b []byte
			_ = e.Bind(&b)
			slices.Reverse(b)
			_ = e.Ack(map[string]any{"reversed": b, "len": len(b)})
		})
	})
}

func TestOneGatewayOneBackend(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gone := newDisconnects()
	startBackend(t, redis.URL(), "chat", func(b *distributor.Backend) { chatHandlers(b.Of("/chat"), gone) })
	gw := startGateway(t, redis.URL(), map[string]string{"/chat": "chat"}, func(s *httpadapter.Server) {
		s.Of("/local").OnConnection(func(s *core.Socket) {
			s.On("where", func(e *core.Event) { _ = e.Ack("gateway") })
		})
	})
	waitReady(t, gw, "chat")

	// A middleware of the backend refuses with data.
	clients.connect("bad", gw.URL(), "/chat", ev{"token": "wrong"})
	e := clients.expect("bad", "connect_error")
	if e.s("message") != "unauthorized" || jsonOf(e["data"]) != `{"code":401}` {
		t.Fatalf("refusal: %v", e)
	}

	clients.connect("a", gw.URL(), "/chat", ev{"token": "secret"})
	clients.connect("b", gw.URL(), "/chat", ev{"token": "secret"})
	aID := clients.expect("a", "connect").s("id")
	bID := clients.expect("b", "connect").s("id")

	seq := 0
	call := func(c, event string, args ...any) ev {
		t.Helper()
		seq++
		if args == nil {
			args = []any{}
		}
		clients.send(ev{"cmd": "emit", "c": c, "seq": seq, "event": event, "args": args, "ack": true, "timeout": 10000})
		r := clients.ack(c, seq)
		if r["err"] != nil {
			t.Fatalf("%s %s: %v", c, event, r["err"])
		}
		return r
	}
	answer := func(r ev) string { return jsonOf(r["args"].([]any)[0]) }

	// The socket id the client holds is the backend's.
	if got := answer(call("a", "whoami")); got != jsonOf(aID) {
		t.Fatalf("whoami = %s, client has %s", got, aID)
	}
	// Acks from client to backend, with the arguments as they came.
	if got := answer(call("a", "echo", map[string]any{"x": []any{1, "two", nil}})); got != `{"x":[1,"two",null]}` {
		t.Fatalf("echo = %s", got)
	}
	// Binary both ways.
	if got := answer(call("a", "binary", ev{"$bin": "0102030405"})); got != `{"len":5,"reversed":{"$bin":"0504030201"}}` {
		t.Fatalf("binary = %s", got)
	}
	// Backend to client with an ack, awaited inside the handler.
	if got := answer(call("a", "ask")); got != `"ack:question"` {
		t.Fatalf("ask = %s", got)
	}
	clients.event("a", "question")

	// Rooms and broadcasts.
	if got := answer(call("a", "join", "r1")); got != jsonOf([]string{aID, "r1"}) {
		t.Fatalf("rooms of a = %s", got)
	}
	call("b", "join", "r1")
	call("b", "shout", "r1", "hello")
	for _, c := range []string{"a", "b"} {
		if got := jsonOf(clients.event(c, "shouted")["args"]); got != jsonOf([]any{"hello", bID}) {
			t.Fatalf("%s got %s", c, got)
		}
	}
	call("a", "gossip", "r1", "psst")
	clients.event("b", "gossiped")
	call("a", "leave", "r1")
	call("b", "shout", "r1", "again")
	clients.event("b", "shouted")
	clients.none(300*time.Millisecond, "broadcast to a socket that left the room", func(e ev) bool {
		return e.s("ev") == "event" && e.s("name") != "vote" && (e.s("name") == "gossiped" || e.s("name") == "shouted")
	})

	// A broadcast with acks: every client answers.
	if got := answer(call("b", "poll")); got != "2" {
		t.Fatalf("poll answers = %s", got)
	}
	clients.event("a", "vote")
	clients.event("b", "vote")

	// FetchSockets sees both.
	ids := []string{aID, bID}
	sort.Strings(ids)
	if got := answer(call("a", "fetch")); got != jsonOf(ids) {
		t.Fatalf("fetch = %s, want %v", got, ids)
	}

	// A namespace of the gateway itself goes on working beside.
	clients.connect("l", gw.URL(), "/local", nil)
	clients.expect("l", "connect")
	if got := answer(call("l", "where")); got != `"gateway"` {
		t.Fatalf("local = %s", got)
	}

	// Disconnect reasons, on both sides.
	clients.send(ev{"cmd": "emit", "c": "a", "event": "kick", "args": []any{}})
	if r := clients.expect("a", "disconnect").s("reason"); r != "io server disconnect" {
		t.Fatalf("client a: %s", r)
	}
	if r := gone.wait(t, aID); r != "server namespace disconnect" {
		t.Fatalf("backend, a: %s", r)
	}
	clients.send(ev{"cmd": "disconnect", "c": "b"})
	if r := gone.wait(t, bID); r != "client namespace disconnect" {
		t.Fatalf("backend, b: %s", r)
	}
	// A client whose connection drops: the backend sees the transport's end.
	clients.connect("c", gw.URL(), "/chat", ev{"token": "secret"})
	cID := clients.expect("c", "connect").s("id")
	clients.send(ev{"cmd": "drop", "c": "c"})
	if r := gone.wait(t, cID); r != "transport close" {
		t.Fatalf("backend, c: %s", r)
	}
}

func TestNoBackendRefusesConnect(t *testing.T) {
	checkLeaks(t)
	redis := peertest.StartRedis(t)
	clients := startClients(t)
	gw := startGateway(t, redis.URL(), map[string]string{"/chat": "chat"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := gw.g.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	clients.connect("a", gw.URL(), "/chat", nil)
	e := clients.expect("a", "connect_error")
	if e.s("message") != "Namespace unavailable" || jsonOf(e["data"]) != `{"reason":"no live backend","service":"chat"}` {
		t.Fatalf("got %v", e)
	}
	_ = errors.New
}
