package cluster_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
	"github.com/sio-go/sio/transport/peertest"
)

// goCluster is n Go nodes on one Redis, with one client each; client i
// joined room "r<i>" on connecting.
type goCluster struct {
	redis   *peertest.Redis
	nodes   []*node
	clients []*tclient
	conns   []chan *core.Socket
}

func newGoCluster(t *testing.T, n int, opts cluster.Options, setup func(i int, srv *httpadapter.Server)) *goCluster {
	t.Helper()
	gc := &goCluster{}
	if opts.URL == "" && opts.Client == nil {
		gc.redis = peertest.StartRedis(t)
		opts.URL = gc.redis.URL()
	}
	for i := 0; i < n; i++ {
		conns := make(chan *core.Socket, 16)
		room := "r" + string(rune('0'+i))
		gc.conns = append(gc.conns, conns)
		gc.nodes = append(gc.nodes, startNode(t, opts, func(srv *httpadapter.Server) {
			srv.Of("/").OnConnection(func(s *core.Socket) {
				s.Join(room)
				conns <- s
			})
			if setup != nil {
				setup(i, srv)
			}
		}))
	}
	for i := 0; i < n; i++ {
		gc.clients = append(gc.clients, connect(t, gc.nodes[i].url, "/", nil))
		select {
		case <-gc.conns[i]:
		case <-time.After(waitFor):
			t.Fatalf("node %d saw no connection", i)
		}
	}
	gc.waitSubscribed(t)
	return gc
}

// waitSubscribed waits until every node's bus is subscribed to all its
// channels (the sharded protocol subscribes to rooms as they appear).
func (gc *goCluster) waitSubscribed(t *testing.T) {
	t.Helper()
	for i, n := range gc.nodes {
		if err := n.bus.WaitSubscribed(ctxT(t)); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
}

func (gc *goCluster) nsp(i int) *core.Namespace { return gc.nodes[i].srv.Of("/") }

// barrier waits until every client received want[i] events, then has a
// node other than the senders broadcast "end" and waits for it everywhere:
// a message published before it that were to arrive twice would arrive
// before it. It returns what each client received before "end".
func (gc *goCluster) barrier(t *testing.T, from int, want []int) [][]string {
	t.Helper()
	for i, c := range gc.clients {
		c.waitUntil("the expected events", func(ev []string) bool { return len(ev) >= want[i] })
	}
	if err := gc.nsp(from).Emit("end"); err != nil {
		t.Fatal(err)
	}
	out := make([][]string, len(gc.clients))
	for i, c := range gc.clients {
		ev := c.waitUntil(`"end"`, func(ev []string) bool { return slices.Contains(ev, "end") })
		idx := slices.Index(ev, "end")
		out[i] = ev[:idx]
		if len(ev) != idx+1 {
			t.Errorf("client %d received after end: %q", i, ev[idx+1:])
		}
	}
	return out
}

func TestClassicBroadcasts(t *testing.T) { testBroadcasts(t, cluster.Options{}) }

func testBroadcasts(t *testing.T, opts cluster.Options) {
	checkLeaks(t)
	gc := newGoCluster(t, 3, opts, nil)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(gc.nsp(0).Emit("e", "all"))
	must(gc.nsp(1).To("r2").Emit("e", "room r2"))
	must(gc.nsp(2).To("r0", "r1").Emit("e", "rooms r0 r1"))
	must(gc.nsp(0).Except("r1").Emit("e", "except r1"))
	must(gc.nsp(0).Local().Emit("e", "local"))
	must(gc.nsp(1).Volatile().Emit("e", "volatile"))
	must(gc.nsp(2).Emit("bin", []byte{1, 2, 3}, map[string]any{"nested": []byte("x")}))
	must(gc.nsp(1).To(gc.clients[0].id()).Emit("e", "to a socket id"))

	want := [][]string{
		{`e "all"`, `e "rooms r0 r1"`, `e "except r1"`, `e "local"`, `e "volatile"`, `bin [1 2 3] map[nested:[120]]`, `e "to a socket id"`},
		{`e "all"`, `e "rooms r0 r1"`, `e "volatile"`, `bin [1 2 3] map[nested:[120]]`},
		{`e "all"`, `e "room r2"`, `e "except r1"`, `e "volatile"`, `bin [1 2 3] map[nested:[120]]`},
	}
	got := gc.barrier(t, 1, []int{len(want[0]), len(want[1]), len(want[2])})
	for i := range want {
		if !slices.Equal(sorted(got[i]), sorted(want[i])) {
			t.Errorf("client %d received\n%q\nwant (in any order)\n%q", i, got[i], want[i])
		}
	}
	// Redis's answer to a publish may come after the message itself
	// reached the subscribers: wait for the count.
	waitStats(t, gc.nodes[0].bus, "the publishes to be counted", func(s cluster.Stats) bool { return s.Published >= 2 }) // "all", "except r1"
	st := gc.nodes[0].bus.Stats()
	if st.Received == 0 || st.Failed != 0 || st.Dropped != 0 || st.Invalid != 0 || !st.Subscribed {
		t.Errorf("node 0 stats %+v", st)
	}
}

// Per sender, broadcasts arrive in the order they were sent.
func TestClassicBroadcastOrder(t *testing.T) { testBroadcastOrder(t, cluster.Options{}) }

func testBroadcastOrder(t *testing.T, opts cluster.Options) {
	checkLeaks(t)
	gc := newGoCluster(t, 2, opts, nil)
	const n = 500
	for i := 0; i < n; i++ {
		if err := gc.nsp(0).Emit("n", i); err != nil {
			t.Fatal(err)
		}
	}
	got := gc.barrier(t, 1, []int{n, n})
	for c, ev := range got {
		if len(ev) != n {
			t.Fatalf("client %d received %d events, want %d", c, len(ev), n)
		}
		for i, e := range ev {
			if want := "n " + itoa(i); e != want {
				t.Fatalf("client %d: event %d is %q, want %q", c, i, e, want)
			}
		}
	}
}

func itoa(i int) string {
	return string(appendInt(nil, i))
}

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

func TestClassicRoomsAcrossNodes(t *testing.T) { testRoomsAcrossNodes(t, cluster.Options{}) }

func testRoomsAcrossNodes(t *testing.T, opts cluster.Options) {
	checkLeaks(t)
	gc := newGoCluster(t, 3, opts, nil)
	ctx := ctxT(t)
	hasRoom := func(from int, id, room string) bool {
		socks, err := gc.nsp(from).In(id).FetchSockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(socks) == 1 && slices.Contains(socks[0].Rooms, room)
	}
	waitRoom := func(from int, id, room string, in bool) {
		t.Helper()
		deadline := time.Now().Add(waitFor)
		for hasRoom(from, id, room) != in {
			if time.Now().After(deadline) {
				t.Fatalf("socket %s in room %s: want %v", id, room, in)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c1, c2 := gc.clients[1], gc.clients[2]

	// Node 0 makes the socket of node 2 join "x"; node 1 broadcasts to x.
	gc.nsp(0).In(c2.id()).SocketsJoin("x")
	waitRoom(1, c2.id(), "x", true)
	gc.waitSubscribed(t)
	if err := gc.nsp(1).To("x").Emit("e", "to x"); err != nil {
		t.Fatal(err)
	}
	c2.waitEvent(`e "to x"`)

	// Every socket of rooms r1 and r2 joins "y", then leaves "x".
	gc.nsp(0).In("r1", "r2").SocketsJoin("y")
	waitRoom(0, c1.id(), "y", true)
	waitRoom(0, c2.id(), "y", true)
	gc.nsp(1).In("y").SocketsLeave("x")
	waitRoom(0, c2.id(), "x", false)
	gc.waitSubscribed(t)
	if err := gc.nsp(0).To("x").Emit("e", "to x again"); err != nil {
		t.Fatal(err)
	}
	if err := gc.nsp(0).To("y").Emit("e", "to y"); err != nil {
		t.Fatal(err)
	}
	got := gc.barrier(t, 1, []int{0, 1, 2})
	if want := []string{`e "to y"`}; !slices.Equal(got[1], want) {
		t.Errorf("client 1 received %q, want %q", got[1], want)
	}
	if want := []string{`e "to x"`, `e "to y"`}; !slices.Equal(sorted(got[2]), want) {
		t.Errorf("client 2 received %q, want %q", got[2], want)
	}

	// AllRooms sees the rooms of every node.
	rooms, err := gc.nsp(0).Adapter().AllRooms(ctx)
	if opts.Protocol == cluster.Sharded {
		if !errors.Is(err, cluster.ErrUnsupported) || !slices.Contains(rooms, "r0") {
			t.Errorf("AllRooms with the sharded protocol: %q, %v", rooms, err)
		}
		rooms = []string{"r0", "r1", "r2", "y", c1.id(), c2.id()}
	} else if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"r0", "r1", "r2", "y", c1.id(), c2.id()} {
		if !slices.Contains(rooms, r) {
			t.Errorf("AllRooms %q lacks %q", rooms, r)
		}
	}

	// Node 1 disconnects the sockets of room r2 (on node 2).
	disc := make(chan string, 1)
	c2.s.OnDisconnect(func(reason string) { disc <- reason })
	gc.nsp(1).In("r2").DisconnectSockets(false)
	select {
	case r := <-disc:
		if r != "io server disconnect" {
			t.Errorf("disconnect reason %q", r)
		}
	case <-time.After(waitFor):
		t.Fatal("the socket of node 2 was not disconnected")
	}
}

func TestClassicFetchSockets(t *testing.T) { testFetchSockets(t, cluster.Options{}) }

func testFetchSockets(t *testing.T, opts cluster.Options) {
	checkLeaks(t)
	gc := newGoCluster(t, 2, opts, func(i int, srv *httpadapter.Server) {
		srv.Of("/").OnConnection(func(s *core.Socket) {
			s.SetData(map[string]any{"node": i, "name": "client"})
		})
	})
	ctx := ctxT(t)
	socks, err := gc.nsp(0).FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 2 {
		t.Fatalf("fetched %d sockets, want 2", len(socks))
	}
	var remote *core.RemoteSocket
	for _, s := range socks {
		if s.ID == gc.clients[1].id() {
			remote = s
		}
	}
	if remote == nil {
		t.Fatalf("the socket of node 1 (%s) was not fetched", gc.clients[1].id())
	}
	if !slices.Equal(sorted(remote.Rooms), sorted([]string{remote.ID, "r1"})) {
		t.Errorf("rooms %q", remote.Rooms)
	}
	if d, ok := remote.Data.(map[string]any); !ok || d["node"] != float64(1) || d["name"] != "client" {
		t.Errorf("data %#v", remote.Data)
	}
	hs := remote.Handshake
	if hs.Header.Get("Upgrade") != "websocket" || hs.Query().Get("EIO") != "4" || hs.Address == "" ||
		time.Since(hs.Time) > time.Minute || hs.URL == "" {
		t.Errorf("handshake %+v", hs)
	}
	// Acting on the remote socket goes through the bus.
	if err := remote.Emit("e", "direct"); err != nil {
		t.Fatal(err)
	}
	gc.clients[1].waitEvent(`e "direct"`)

	// Local only.
	socks, err = gc.nsp(0).Local().FetchSockets(ctx)
	if err != nil || len(socks) != 1 || socks[0].ID != gc.clients[0].id() {
		t.Errorf("local fetch: %v, %v", socks, err)
	}
	// By room.
	socks, err = gc.nsp(1).In("r0").FetchSockets(ctx)
	if err != nil || len(socks) != 1 || socks[0].ID != gc.clients[0].id() {
		t.Errorf("fetch in r0: %v, %v", socks, err)
	}
	if n, err := gc.nsp(0).Adapter().ServerCount(ctx); err != nil || n != 2 {
		t.Errorf("server count %d, %v; want 2", n, err)
	}
}

func TestClassicServerSideEmit(t *testing.T) { testServerSideEmit(t, cluster.Options{}) }

func testServerSideEmit(t *testing.T, opts cluster.Options) {
	checkLeaks(t)
	type got struct {
		node int
		args []string
	}
	events := make(chan got, 16)
	gc := newGoCluster(t, 3, opts, func(i int, srv *httpadapter.Server) {
		srv.Of("/").OnServerSideEmit("hello", func(args core.Args, ack func(...any) error) {
			var s []string
			for _, a := range args {
				s = append(s, string(a.JSON))
			}
			events <- got{i, s}
			if ack != nil {
				time.Sleep(10 * time.Millisecond) // a handler may block
				_ = ack(map[string]any{"node": i})
			}
		})
	})
	if err := gc.nsp(0).ServerSideEmit("hello", "world", 1); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for len(seen) < 2 {
		select {
		case g := <-events:
			if g.node == 0 || seen[g.node] || !slices.Equal(g.args, []string{`"world"`, "1"}) {
				t.Errorf("unexpected %+v", g)
			}
			seen[g.node] = true
		case <-time.After(waitFor):
			t.Fatalf("server-side event reached %v", seen)
		}
	}
	answers, err := gc.nsp(1).ServerSideEmitWithAck(ctxT(t), 5*time.Second, "hello", "again")
	if err != nil {
		t.Fatal(err)
	}
	var nodes []int
	for _, a := range answers {
		var v struct{ Node int }
		if err := a.Bind(&v); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, v.Node)
	}
	slices.Sort(nodes)
	if !slices.Equal(nodes, []int{0, 2}) {
		t.Errorf("answers from nodes %v, want [0 2]", nodes)
	}
}

func TestClassicBroadcastWithAcks(t *testing.T) { testBroadcastWithAcks(t, cluster.Options{}) }

func testBroadcastWithAcks(t *testing.T, opts cluster.Options) {
	checkLeaks(t)
	gc := newGoCluster(t, 3, opts, nil)
	for i, c := range gc.clients {
		c.s.On("ask", func(e *transportEvent) { _ = e.Ack("answer", i) })
	}
	answers, err := gc.nsp(0).Timeout(5*time.Second).EmitWithAck(ctxT(t), "ask", "q")
	if err != nil {
		t.Fatal(err)
	}
	var from []int
	for _, a := range answers {
		var s string
		var i int
		if err := a.Bind(&s, &i); err != nil {
			t.Fatal(err)
		}
		from = append(from, i)
	}
	slices.Sort(from)
	// Remote answers carry the first argument only, as in the reference.
	if len(from) != 3 || from[0] != 0 {
		t.Errorf("answers %v", answers)
	}

	// To a room on another node, with a client that never answers: the
	// timeout ends it with the answers that came.
	gc.clients[2].s.Off("ask")
	start := time.Now()
	answers, err = gc.nsp(0).To("r1", "r2").Timeout(500*time.Millisecond).EmitWithAck(ctxT(t), "ask", "q")
	if !errors.Is(err, core.ErrAckTimeout) || len(answers) != 1 {
		t.Errorf("answers %v, %v; want one answer and a timeout", answers, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

// A request to a node that does not answer ends at the timeout, with what
// the others sent and an error that says how many did not answer.
func TestClassicRequestTimeout(t *testing.T) {
	checkLeaks(t)
	var asked atomic.Int32
	gc := newGoCluster(t, 2, cluster.Options{RequestTimeout: 500 * time.Millisecond}, func(i int, srv *httpadapter.Server) {
		srv.Of("/").OnServerSideEmit("ask", func(_ core.Args, ack func(...any) error) {
			asked.Add(1)
			if i == 1 && ack != nil {
				_ = ack("node 1")
			}
		})
	})
	// A subscriber that never answers: a node that hangs.
	hung := startHungNode(t, gc.redis.URL(), "socket.io-request#/#")
	_ = hung
	ctx := ctxT(t)
	start := time.Now()
	socks, err := gc.nsp(0).FetchSockets(ctx)
	var te *cluster.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, cluster.ErrTimeout) {
		t.Fatalf("err %v, want a *TimeoutError", err)
	}
	if te.Expected != 2 || te.Received != 1 || te.Op != "fetchSockets" || !slices.Equal(te.Answered, []string{gc.adapter(1).UID()}) {
		t.Errorf("error %+v", te)
	}
	if len(socks) != 2 {
		t.Errorf("fetched %d sockets, want the 2 of the nodes that answered", len(socks))
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
		t.Errorf("took %v, want about the 500ms timeout", d)
	}
	if gc.nodes[0].bus.Stats().RequestTimeouts != 1 {
		t.Errorf("stats %+v", gc.nodes[0].bus.Stats())
	}
	t.Log(err)

	// A server-side emit with acks ends at its own timeout with node 1's
	// answer and the same typed error, which is core's ack timeout too.
	start = time.Now()
	answers, err := gc.nsp(0).ServerSideEmitWithAck(ctx, 300*time.Millisecond, "ask")
	te = nil
	if !errors.Is(err, core.ErrAckTimeout) || !errors.As(err, &te) {
		t.Fatalf("err %v (%T), want a *cluster.TimeoutError matching core.ErrAckTimeout", err, err)
	}
	if te.Op != "serverSideEmit" || te.Expected != 2 || te.Received != 1 || te.Timeout != 300*time.Millisecond ||
		!slices.Equal(te.Answered, []string{gc.adapter(1).UID()}) || len(te.Missing) != 0 {
		t.Errorf("error %+v", te)
	}
	if len(answers) != 1 || string(answers[0][0].JSON) != `"node 1"` {
		t.Errorf("answers %v, want node 1's", answers)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Errorf("took %v, want about the 300ms timeout", d)
	}
	if gc.nodes[0].bus.Stats().RequestTimeouts != 2 {
		t.Errorf("stats %+v", gc.nodes[0].bus.Stats())
	}
	t.Log(err)

	// Closing the adapter ends a server-side emit still waiting, at once.
	type result struct {
		answers []core.Args
		err     error
	}
	res := make(chan result, 1)
	go func() {
		a, err := gc.nsp(0).ServerSideEmitWithAck(ctx, time.Hour, "ask")
		res <- result{a, err}
	}()
	waitFor1 := time.Now().Add(waitFor)
	for asked.Load() < 2 {
		if time.Now().After(waitFor1) {
			t.Fatal("node 1 was not asked a second time")
		}
		time.Sleep(5 * time.Millisecond)
	}
	gc.nodes[0].stop()
	select {
	case r := <-res:
		if !errors.Is(r.err, cluster.ErrClosed) {
			t.Errorf("after close: %v, %v; want ErrClosed", r.answers, r.err)
		}
	case <-time.After(waitFor):
		t.Fatal("a server-side emit still waited after its adapter closed")
	}
}

func (gc *goCluster) adapter(i int) *cluster.Adapter {
	return gc.nsp(i).Adapter().(*cluster.Adapter)
}

var _ sync.Locker
var _ = context.Background
