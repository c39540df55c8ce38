package cluster_test

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
	"github.com/sio-go/sio/transport/peertest"
)

// mixed is a cluster of two Go nodes and one Node.js node (the reference
// server on the reference Redis adapter) on one Redis, with:
//   - go0, go1: Go clients of the Go nodes (in rooms r0 and r1);
//   - "nc": an official client of the Node.js node (in room rn);
//   - "ngc": an official client of Go node 0 (in room r0).
type mixed struct {
	redis   *peertest.Redis
	peer    *nodePeer
	nodeUID string
	gc      *goCluster
	nodeIDs map[string]string // official client name -> socket id
}

func newMixed(t *testing.T, protocol string, opts cluster.Options) *mixed {
	return newMixedWith(t, protocol, nil, opts)
}

// newMixedWith is newMixed with options for the reference adapter.
func newMixedWith(t *testing.T, protocol string, nodeOpts map[string]any, opts cluster.Options) *mixed {
	return newMixedOn(t, nil, protocol, nodeOpts, opts)
}

// newMixedOn is newMixedWith on a Redis Cluster when rc is not nil.
func newMixedOn(t *testing.T, rc *peertest.RedisCluster, protocol string, nodeOpts map[string]any, opts cluster.Options) *mixed {
	redisURL := ""
	if rc != nil {
		opts.URL = clusterURL(rc)
		redisURL = opts.URL
	}
	t.Helper()
	// The Go cluster first: its Redis serves the Node.js node too, and
	// the peer, started after it, stops before it.
	gc := newGoCluster(t, 2, opts, func(i int, srv *httpadapter.Server) {
		srv.Of("/").OnConnection(func(s *core.Socket) {
			s.SetData(map[string]any{"node": i})
			s.On("join", func(e *core.Event) {
				var room string
				_ = e.Bind(&room)
				s.Join(room)
				_ = e.Ack("joined")
			})
		})
		srv.Of("/").OnServerSideEmit("hello", func(args core.Args, ack func(...any) error) {
			if ack != nil {
				_ = ack(map[string]any{"from": "go", "node": i})
			}
		})
	})
	peer := startNodePeer(t)
	m := &mixed{redis: gc.redis, peer: peer, gc: gc, nodeIDs: map[string]string{}}
	server := map[string]any{"protocol": protocol, "options": nodeOpts}
	if rc != nil {
		server["cluster"] = rc.Addrs()
	} else {
		redisURL = gc.redis.URL()
		server["redis"] = redisURL
	}
	var started struct {
		Port int    `json:"port"`
		UID  string `json:"uid"`
	}
	peer.must("server", server, &started)
	m.nodeUID = started.UID
	nodeURL := "http://127.0.0.1:" + itoa(started.Port)
	for _, c := range []struct{ name, url, room string }{{"nc", nodeURL, "rn"}, {"ngc", gc.nodes[0].url, "r0"}} {
		var res struct{ ID string }
		peer.must("client", map[string]any{"name": c.name, "url": c.url}, &res)
		m.nodeIDs[c.name] = res.ID
		if _, err := peer.call("clientEmit", map[string]any{"name": c.name, "event": "join", "args": []any{c.room}, "ack": true}); err != nil {
			t.Fatal(err)
		}
	}
	// The Node.js node subscribes to the channel of a room it creates
	// after the join is answered: wait for it.
	if protocol == "sharded" && nodeOpts["subscriptionMode"] != "static" {
		waitShardSubscribers(t, redisURL, "socket.io#/#rn#", 1)
	}
	gc.waitSubscribed(t)
	// Every node counts the others: the Node.js node has subscribed.
	deadline := time.Now().Add(waitFor)
	for {
		n, err := gc.nsp(0).Adapter().ServerCount(ctxT(t))
		if err == nil && n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server count %d, %v; want 3", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return m
}

// barrier waits until each client received its expected number of events,
// then has Go node 1 broadcast "end", and returns what each received
// before it: go0, go1, nc, ngc.
func (m *mixed) barrier(t *testing.T, want map[string]int) map[string][]string {
	t.Helper()
	for i, c := range m.gc.clients {
		c.waitUntil("the expected events", func(ev []string) bool { return len(ev) >= want["go"+itoa(i)] })
	}
	for _, name := range []string{"nc", "ngc"} {
		m.peer.waitUntil(name+"'s events", func([]peerEvent) bool { return len(m.peer.clientEventsLocked(name)) >= want[name] })
	}
	if err := m.gc.nsp(1).Emit("end"); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	cut := func(name string, ev []string) {
		idx := slices.Index(ev, "end")
		out[name] = ev[:idx]
		if len(ev) != idx+1 {
			t.Errorf("%s received after end: %q", name, ev[idx+1:])
		}
	}
	for i, c := range m.gc.clients {
		cut("go"+itoa(i), c.waitUntil(`"end"`, func(ev []string) bool { return slices.Contains(ev, "end") }))
	}
	for _, name := range []string{"nc", "ngc"} {
		m.peer.waitClientEvent(name, "end")
		cut(name, m.peer.clientEvents(name))
	}
	return out
}

func TestInteropClassicBroadcasts(t *testing.T) {
	checkLeaks(t)
	testInteropBroadcasts(t, newMixed(t, "classic", cluster.Options{}))
}

// The reference's sharded adapter in its dynamic and static modes.
func TestInteropShardedBroadcasts(t *testing.T) {
	for _, mode := range []cluster.SubscriptionMode{cluster.DynamicRooms, cluster.StaticChannels} {
		t.Run(mode.String(), func(t *testing.T) {
			checkLeaks(t)
			m := newMixedWith(t, "sharded", map[string]any{"subscriptionMode": mode.String()},
				cluster.Options{Protocol: cluster.Sharded, SubscriptionMode: mode})
			testInteropBroadcasts(t, m)
		})
	}
}

func testInteropBroadcasts(t *testing.T, m *mixed) {
	gn := m.gc.nsp
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	emit := func(fields map[string]any) {
		t.Helper()
		m.peer.must("emit", fields, nil)
	}
	must(gn(0).Emit("e", "go all"))
	emit(map[string]any{"event": "e", "args": []any{"node all"}})
	emit(map[string]any{"event": "e", "args": []any{"node to r1"}, "rooms": []string{"r1"}})
	must(gn(1).To("rn").Emit("e", "go to rn"))
	emit(map[string]any{"event": "e", "args": []any{"node to r0 rn except rn"}, "rooms": []string{"r0", "rn"}, "except": []string{"rn"}})
	must(gn(0).To("rn", "r1").Emit("e", "go to rn r1"))
	emit(map[string]any{"event": "bin", "args": []any{map[string]any{"$bin": "0102ff"}, map[string]any{"x": map[string]any{"$bin": "00"}}}, "rooms": []string{"r1"}})
	must(gn(1).To("rn").Emit("bin", []byte{1, 2, 255}, map[string]any{"x": []byte{0}}))
	emit(map[string]any{"event": "e", "args": []any{"node volatile"}, "volatile": true, "rooms": []string{"r0"}})
	emit(map[string]any{"event": "e", "args": []any{"node local"}, "local": true})
	must(gn(0).To(m.nodeIDs["nc"]).Emit("e", "go to a node socket"))
	emit(map[string]any{"event": "e", "args": []any{"node to a go socket"}, "rooms": []string{m.gc.clients[1].id()}})

	want := map[string][]string{
		"go0": {`e "go all"`, `e "node all"`, `e "node to r0 rn except rn"`, `e "node volatile"`},
		"go1": {`e "go all"`, `e "node all"`, `e "node to r1"`, `e "go to rn r1"`, `bin [1 2 255] map[x:[0]]`, `e "node to a go socket"`},
		"nc":  {`e "go all"`, `e "node all"`, `e "go to rn"`, `e "go to rn r1"`, `bin {"$bin":"0102ff"} {"x":{"$bin":"00"}}`, `e "node local"`, `e "go to a node socket"`},
		"ngc": {`e "go all"`, `e "node all"`, `e "node to r0 rn except rn"`, `e "node volatile"`},
	}
	counts := map[string]int{}
	for k, v := range want {
		counts[k] = len(v)
	}
	got := m.barrier(t, counts)
	for name, w := range want {
		if !slices.Equal(sorted(got[name]), sorted(w)) {
			t.Errorf("%s received\n%q\nwant (in any order)\n%q", name, got[name], w)
		}
	}
}

// fetchedSocket is a socket as the Node.js peer reports a fetched one.
type fetchedSocket struct {
	ID        string         `json:"id"`
	Rooms     []string       `json:"rooms"`
	Data      map[string]any `json:"data"`
	Handshake struct {
		Headers map[string]any `json:"headers"`
		Time    string         `json:"time"`
		Address string         `json:"address"`
		Issued  int64          `json:"issued"`
		URL     string         `json:"url"`
		Query   map[string]any `json:"query"`
		Auth    map[string]any `json:"auth"`
	} `json:"handshake"`
}

func TestInteropClassicRequests(t *testing.T) {
	checkLeaks(t)
	testInteropRequests(t, newMixed(t, "classic", cluster.Options{}), false)
}

func TestInteropShardedRequests(t *testing.T) {
	for _, mode := range []cluster.SubscriptionMode{cluster.DynamicRooms, cluster.StaticChannels} {
		t.Run(mode.String(), func(t *testing.T) {
			checkLeaks(t)
			m := newMixedWith(t, "sharded", map[string]any{"subscriptionMode": mode.String()},
				cluster.Options{Protocol: cluster.Sharded, SubscriptionMode: mode})
			testInteropRequests(t, m, true)
		})
	}
}

// The reference's sharded adapter on a Redis Cluster of three masters,
// with a Go cluster on the same.
func TestInteropShardedRedisCluster(t *testing.T) {
	rc := peertest.StartRedisCluster(t, 3)
	t.Run("Broadcasts", func(t *testing.T) {
		checkLeaks(t)
		testInteropBroadcasts(t, newMixedOn(t, rc, "sharded", nil, cluster.Options{Protocol: cluster.Sharded}))
	})
	t.Run("Requests", func(t *testing.T) {
		checkLeaks(t)
		testInteropRequests(t, newMixedOn(t, rc, "sharded", nil, cluster.Options{Protocol: cluster.Sharded}), true)
	})
}

func testInteropRequests(t *testing.T, m *mixed, sharded bool) {
	ctx := ctxT(t)
	go0, go1 := m.gc.clients[0], m.gc.clients[1]

	// fetchSockets from Node.js sees the Go sockets.
	var fetched []fetchedSocket
	m.peer.must("fetchSockets", nil, &fetched)
	byID := map[string]fetchedSocket{}
	for _, s := range fetched {
		byID[s.ID] = s
	}
	if len(fetched) != 4 {
		t.Errorf("node fetched %d sockets, want 4: %+v", len(fetched), fetched)
	}
	if s, ok := byID[go1.id()]; !ok {
		t.Errorf("node did not fetch Go socket %s", go1.id())
	} else {
		if !slices.Equal(sorted(s.Rooms), sorted([]string{go1.id(), "r1"})) || s.Data["node"] != float64(1) {
			t.Errorf("node fetched %+v", s)
		}
		hs := s.Handshake
		if hs.Headers["upgrade"] != "websocket" || hs.Query["EIO"] != "4" || time.Since(time.UnixMilli(hs.Issued)) > time.Minute ||
			!strings.Contains(hs.Time, "GMT") || hs.Address == "" || !strings.HasPrefix(hs.URL, "/socket.io/") || hs.Auth == nil {
			t.Errorf("node fetched handshake %+v", hs)
		}
	}
	if len(go1.id()) != 20 {
		t.Errorf("Go socket id %q: want 20 characters, as the reference makes them", go1.id())
	}

	// And from Go, the Node.js sockets.
	socks, err := m.gc.nsp(1).FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var nc *core.RemoteSocket
	for _, s := range socks {
		if s.ID == m.nodeIDs["nc"] {
			nc = s
		}
	}
	if len(socks) != 4 || nc == nil {
		t.Fatalf("Go fetched %d sockets (want 4), node client %s among them: %v", len(socks), m.nodeIDs["nc"], nc != nil)
	}
	if d, _ := nc.Data.(map[string]any); d["node"] != "node" || !slices.Contains(nc.Rooms, "rn") ||
		nc.Handshake.Query().Get("EIO") != "4" || nc.Handshake.Header.Get("Connection") == "" || time.Since(nc.Handshake.Time) > time.Minute {
		t.Errorf("Go fetched %+v", nc)
	}
	// Acting on it from Go: a room joined through the bus is honoured by
	// the Node.js node.
	nc.Join("joined-from-go")
	deadline := time.Now().Add(waitFor)
	for {
		var again []fetchedSocket
		m.peer.must("fetchSockets", map[string]any{"rooms": []string{"joined-from-go"}}, &again)
		if len(again) == 1 && again[0].ID == m.nodeIDs["nc"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node socket did not join the room: %+v", again)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And from Node.js: a Go socket joins a room, which Go honours.
	m.peer.must("socketsJoin", map[string]any{"rooms": []string{"r0"}, "room": "joined-from-node"}, nil)
	deadline = time.Now().Add(waitFor)
	for {
		s, err := m.gc.nsp(1).In("joined-from-node").FetchSockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) == 2 { // go0 and ngc, both on Go node 0
			m.gc.waitSubscribed(t)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Go sockets in the room joined from node: %d, want 2", len(s))
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.peer.must("emit", map[string]any{"event": "e", "args": []any{"to joined-from-node"}, "rooms": []string{"joined-from-node"}}, nil)
	go0.waitEvent(`e "to joined-from-node"`)
	m.peer.waitClientEvent("ngc", `e "to joined-from-node"`)

	// allRooms both ways (the sharded protocol has no such request).
	if !sharded {
		var nodeRooms []string
		m.peer.must("allRooms", nil, &nodeRooms)
		rooms, err := m.gc.nsp(0).Adapter().AllRooms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []string{"r0", "r1", "rn", "joined-from-go", "joined-from-node", go1.id(), m.nodeIDs["nc"]} {
			if !slices.Contains(nodeRooms, r) || !slices.Contains(rooms, r) {
				t.Errorf("room %q: in Node's allRooms %v, in Go's %v", r, slices.Contains(nodeRooms, r), slices.Contains(rooms, r))
			}
		}
	}
	var count int
	m.peer.must("serverCount", nil, &count)
	if count != 3 {
		t.Errorf("node server count %d, want 3", count)
	}

	// serverSideEmit with acks, Go to Node.js (and the other Go node).
	answers, err := m.gc.nsp(0).ServerSideEmitWithAck(ctx, 3*time.Second, "hello", "from go", []byte{7})
	if err != nil {
		t.Fatal(err)
	}
	var from []string
	for _, a := range answers {
		var v struct {
			From string
			Got  []any
		}
		if err := a.Bind(&v); err != nil {
			t.Fatal(err)
		}
		from = append(from, v.From)
		if v.From == "node" {
			js, _ := json.Marshal(v.Got)
			// JSON carries a Buffer as Node writes it; the sharded
			// protocol switches to MessagePack for binary.
			want := `["from go",{"data":[7],"type":"Buffer"}]`
			if sharded {
				want = `["from go",{"$bin":"07"}]`
			}
			if string(js) != want {
				t.Errorf("node got %s", js)
			}
		}
	}
	sort.Strings(from)
	if !slices.Equal(from, []string{"go", "node"}) {
		t.Errorf("answers from %v, want go and node", from)
	}
	// And Node.js to Go.
	var nodeAnswers []map[string]any
	m.peer.must("serverSideEmit", map[string]any{"event": "hello", "args": []any{"from node"}, "ack": true}, &nodeAnswers)
	if len(nodeAnswers) != 2 || nodeAnswers[0]["from"] != "go" || nodeAnswers[1]["from"] != "go" {
		t.Errorf("node's answers %v, want two from go", nodeAnswers)
	}

	// Broadcast with acks from Go reaches the Node.js node's client.
	for i, c := range m.gc.clients {
		c.s.On("ask", func(e *transportEvent) { _ = e.Ack(map[string]any{"from": "go" + itoa(i)}) })
	}
	acks, err := m.gc.nsp(1).Timeout(3*time.Second).EmitWithAck(ctx, "ask", 1)
	if err != nil {
		t.Fatal(err)
	}
	var ackFrom []string
	for _, a := range acks {
		var v struct{ From string }
		_ = a.Bind(&v)
		ackFrom = append(ackFrom, v.From)
	}
	sort.Strings(ackFrom)
	if !slices.Equal(ackFrom, []string{"go0", "go1", "nc", "ngc"}) {
		t.Errorf("acks from %v", ackFrom)
	}
	// And from Node.js, reaching the Go node's clients.
	var nodeAcks []map[string]any
	m.peer.must("emitWithAck", map[string]any{"event": "ask", "args": []any{2}, "timeout": 3000}, &nodeAcks)
	ackFrom = nil
	for _, a := range nodeAcks {
		ackFrom = append(ackFrom, a["from"].(string))
	}
	sort.Strings(ackFrom)
	if !slices.Equal(ackFrom, []string{"go0", "go1", "nc", "ngc"}) {
		t.Errorf("node's acks from %v", ackFrom)
	}

	// Disconnect from Node.js, of a Go socket.
	disc := make(chan string, 1)
	go1.s.OnDisconnect(func(r string) { disc <- r })
	m.peer.must("disconnectSockets", map[string]any{"rooms": []string{go1.id()}}, nil)
	select {
	case <-disc:
	case <-time.After(waitFor):
		t.Fatal("the Go socket was not disconnected by the node server")
	}
}

// A Node.js node that hangs makes a Go request end at its timeout, naming
// the node (it broadcast before, so it is known) in the error.
func TestInteropHungNodeNamed(t *testing.T) { testHungNodeNamed(t, "classic", cluster.Options{}) }

func TestInteropShardedHungNodeNamed(t *testing.T) {
	testHungNodeNamed(t, "sharded", cluster.Options{Protocol: cluster.Sharded})
}

func testHungNodeNamed(t *testing.T, protocol string, opts cluster.Options) {
	checkLeaks(t)
	opts.RequestTimeout = 700 * time.Millisecond
	m := newMixed(t, protocol, opts)
	m.peer.must("emit", map[string]any{"event": "e", "args": []any{"hello"}}, nil)
	m.gc.clients[0].waitEvent(`e "hello"`)
	m.peer.stop()
	defer m.peer.resume()
	start := time.Now()
	socks, err := m.gc.nsp(0).FetchSockets(ctxT(t))
	var te *cluster.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err %v, want a timeout", err)
	}
	if te.Expected != 2 || te.Received != 1 || !slices.Equal(te.Missing, []string{m.nodeUID}) {
		t.Errorf("error %+v; want node %s missing", te, m.nodeUID)
	}
	if len(socks) != 3 { // the two Go clients and ngc
		t.Errorf("fetched %d sockets, want 3", len(socks))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	t.Log(err)

	// A server-side emit with acks: the Go node's answer, and an error
	// that is both core's ack timeout and the cluster's, naming the node.
	start = time.Now()
	answers, err := m.gc.nsp(0).ServerSideEmitWithAck(ctxT(t), 700*time.Millisecond, "hello", "anyone?")
	if !errors.Is(err, core.ErrAckTimeout) || !errors.Is(err, cluster.ErrTimeout) || !errors.As(err, &te) {
		t.Fatalf("err %v (%T), want a *cluster.TimeoutError matching core.ErrAckTimeout", err, err)
	}
	if te.Op != "serverSideEmit" || te.Expected != 2 || te.Received != 1 ||
		!slices.Equal(te.Missing, []string{m.nodeUID}) || !slices.Equal(te.Answered, []string{m.gc.adapter(1).UID()}) {
		t.Errorf("error %+v; want node %s missing, Go node 1 answered", te, m.nodeUID)
	}
	var v struct {
		From string
		Node int
	}
	if len(answers) != 1 || answers[0].Bind(&v) != nil || v.From != "go" || v.Node != 1 {
		t.Errorf("answers %v, want the one of Go node 1", answers)
	}
	if d := time.Since(start); d < 600*time.Millisecond || d > 3*time.Second {
		t.Errorf("took %v, want about the 700ms timeout", d)
	}
	if s := m.gc.nodes[0].bus.Stats(); s.RequestTimeouts != 2 {
		t.Errorf("request timeouts %d, want 2", s.RequestTimeouts)
	}
	t.Log(err)
}
