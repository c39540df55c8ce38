package cluster_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
)

func newEmitter(t *testing.T, url string) *cluster.Emitter {
	t.Helper()
	e, err := cluster.NewEmitter(cluster.EmitterOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// The Go emitter drives Go nodes: emits to rooms and except, room changes
// (applied before what follows them), server-side events, disconnects.
func TestEmitterDrivesGoNodes(t *testing.T) {
	checkLeaks(t)
	sse := make(chan int, 4)
	gc := newGoCluster(t, 2, cluster.Options{}, func(i int, srv *httpadapter.Server) {
		srv.Of("/").OnServerSideEmit("hello", func(args core.Args, ack func(...any) error) {
			var s string
			if err := args.Bind(&s); err != nil || s != "from the emitter" || ack != nil {
				t.Errorf("server-side event %v (%v), ack %v", args, err, ack != nil)
			}
			sse <- i
		})
	})
	e := newEmitter(t, gc.redis.URL())
	ctx := ctxT(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.Emit(ctx, "e", "all"))
	must(e.To("r1").Emit(ctx, "e", "r1"))
	must(e.Of("/").Except("r1").Emit(ctx, "e", "except r1"))
	must(e.To("r0").SocketsJoin(ctx, "j"))
	must(e.To("j").Emit(ctx, "e", "j"))
	must(e.To("r0").SocketsLeave(ctx, "j"))
	must(e.To("j").Emit(ctx, "e", "j again"))
	must(e.Of("/").Volatile().Emit(ctx, "bin", []byte{1, 2}, map[string]any{"k": []byte{3}}))
	must(e.To(gc.clients[1].id()).Emit(ctx, "e", "to a socket id"))
	must(e.Of("/").ServerSideEmit(ctx, "hello", "from the emitter"))
	if err := e.Emit(ctx, "disconnect"); !errors.Is(err, core.ErrReservedEvent) {
		t.Errorf("emitting a reserved event: %v", err)
	}
	want := [][]string{
		{`e "all"`, `e "except r1"`, `e "j"`, `bin [1 2] map[k:[3]]`},
		{`e "all"`, `e "r1"`, `bin [1 2] map[k:[3]]`, `e "to a socket id"`},
	}
	got := gc.barrier(t, 1, []int{len(want[0]), len(want[1])})
	for i := range want {
		if !slices.Equal(got[i], want[i]) { // one sender: in order
			t.Errorf("client %d received\n%q\nwant\n%q", i, got[i], want[i])
		}
	}
	seen := map[int]bool{}
	for len(seen) < 2 {
		select {
		case i := <-sse:
			seen[i] = true
		case <-time.After(waitFor):
			t.Fatalf("server-side event reached nodes %v", seen)
		}
	}
	disc := make(chan string, 1)
	gc.clients[1].s.OnDisconnect(func(r string) { disc <- r })
	must(e.To("r1").DisconnectSockets(ctx, true))
	select {
	case <-disc:
	case <-time.After(waitFor):
		t.Fatal("the socket of node 1 was not disconnected")
	}
}

// The Go emitter drives the reference server's clients, and the
// reference emitter drives Go clients.
func TestEmitterInterop(t *testing.T) {
	checkLeaks(t)
	m := newMixed(t, "classic", cluster.Options{})
	e := newEmitter(t, m.redis.URL())
	ctx := ctxT(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Go emitter, to Node.js node's clients.
	must(e.To("rn").Emit(ctx, "e", "go emitter to rn"))
	must(e.To("rn").Emit(ctx, "bin", []byte{9, 8}))
	must(e.To(m.nodeIDs["nc"]).SocketsJoin(ctx, "gj"))
	must(e.To("gj").Emit(ctx, "e", "go emitter to gj"))
	must(e.Of("/").ServerSideEmit(ctx, "hello", "go emitter"))

	// Reference emitter, to Go clients.
	m.peer.must("emitter", map[string]any{"redis": m.redis.URL()}, nil)
	do := func(fields map[string]any) {
		t.Helper()
		m.peer.must("emitterDo", fields, nil)
	}
	do(map[string]any{"action": "emit", "event": "e", "args": []any{"node emitter to r1"}, "rooms": []string{"r1"}})
	do(map[string]any{"action": "emit", "event": "bin", "args": []any{map[string]any{"$bin": "0a0b"}}, "rooms": []string{"r0"}, "except": []string{m.nodeIDs["ngc"]}})
	do(map[string]any{"action": "socketsJoin", "rooms": []string{"r1"}, "room": "nj"})
	do(map[string]any{"action": "emit", "event": "e", "args": []any{"node emitter to nj"}, "rooms": []string{"nj"}})
	do(map[string]any{"action": "serverSideEmit", "event": "hello", "args": []any{"node emitter"}})

	want := map[string][]string{
		"go0": {`bin [10 11]`},
		"go1": {`e "node emitter to r1"`, `e "node emitter to nj"`},
		"nc":  {`e "go emitter to rn"`, `bin {"$bin":"0908"}`, `e "go emitter to gj"`},
		"ngc": {},
	}
	counts := map[string]int{}
	for k, v := range want {
		counts[k] = len(v)
	}
	got := m.barrier(t, counts)
	for name, w := range want {
		if !slices.Equal(got[name], w) {
			t.Errorf("%s received\n%q\nwant\n%q", name, got[name], w)
		}
	}
	// The Node.js node's handler saw both server-side events.
	m.peer.waitUntil("two server-side events", func(evs []peerEvent) bool {
		n := 0
		for _, ev := range evs {
			if ev.Ev == "server-side" {
				n++
			}
		}
		return n == 2
	})

	// The reference emitter disconnects a Go socket.
	disc := make(chan string, 1)
	m.gc.clients[0].s.OnDisconnect(func(r string) { disc <- r })
	do(map[string]any{"action": "disconnectSockets", "rooms": []string{m.gc.clients[0].id()}})
	select {
	case <-disc:
	case <-time.After(waitFor):
		t.Fatal("the Go socket was not disconnected by the reference emitter")
	}
}
