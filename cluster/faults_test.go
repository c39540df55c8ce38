package cluster_test

import (
	"context"
	"errors"
	"github.com/redis/rueidis"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
)

// waitStats waits until cond holds for the stats of bus.
func waitStats(t *testing.T, bus *cluster.Bus, what string, cond func(cluster.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond(bus.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; stats %+v", what, bus.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Redis restarts in the middle of a test: local delivery goes on while it
// is away, publishing fails and is counted, and once it is back every
// node subscribes again and broadcasts and requests flow as before.
func TestClassicRedisRestart(t *testing.T) { testRedisRestart(t, cluster.Options{}) }

func TestShardedRedisRestart(t *testing.T) {
	testRedisRestart(t, cluster.Options{Protocol: cluster.Sharded})
}

func testRedisRestart(t *testing.T, opts cluster.Options) {
	checkLeaks(t)
	opts.RequestTimeout = time.Second
	gc := newGoCluster(t, 2, opts, nil)
	if err := gc.nsp(0).Emit("e", "before"); err != nil {
		t.Fatal(err)
	}
	gc.clients[1].waitEvent(`e "before"`)

	gc.redis.Kill()
	for _, n := range gc.nodes {
		waitStats(t, n.bus, "the subscription to be lost", func(s cluster.Stats) bool { return !s.Subscribed })
	}
	if err := gc.nsp(0).Emit("e", "during"); err != nil {
		t.Fatal(err)
	}
	gc.clients[0].waitEvent(`e "during"`)
	waitStats(t, gc.nodes[0].bus, "the failed publish to be counted", func(s cluster.Stats) bool { return s.Failed >= 1 })
	if _, err := gc.nsp(0).FetchSockets(ctxT(t)); err == nil {
		t.Error("FetchSockets with Redis away: no error")
	}

	gc.redis.Start()
	for _, n := range gc.nodes {
		waitStats(t, n.bus, "the subscriptions to be made again", func(s cluster.Stats) bool { return s.Subscribed && s.Reconnects >= 1 })
	}
	if err := gc.nsp(0).Emit("e", "after"); err != nil {
		t.Fatal(err)
	}
	if err := gc.nsp(1).Emit("e", "after, from 1"); err != nil {
		t.Fatal(err)
	}
	gc.clients[1].waitEvent(`e "after"`)
	gc.clients[0].waitEvent(`e "after, from 1"`)
	socks, err := gc.nsp(0).FetchSockets(ctxT(t))
	if err != nil || len(socks) != 2 {
		t.Errorf("FetchSockets after the restart: %d sockets, %v", len(socks), err)
	}
	// What was published while Redis was away is lost for node 1.
	for _, e := range gc.clients[1].events() {
		if e == `e "during"` {
			t.Error(`client 1 received "during", published while Redis was away`)
		}
	}
}

// Redis hangs (SIGSTOP): emitting never waits on it, local clients get
// every broadcast at once, requests end at their timeout; once it resumes,
// broadcasts flow again.
func TestClassicRedisHangs(t *testing.T) {
	checkLeaks(t)
	gc := newGoCluster(t, 2, cluster.Options{RequestTimeout: 500 * time.Millisecond}, nil)
	gc.redis.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			gc.redis.Thaw()
		}
	}()
	const n = 200
	for i := 0; i < n; i++ {
		if err := gc.nsp(0).Emit("n", i); err != nil {
			t.Fatal(err)
		}
	}
	// Every broadcast reached the local client while Redis still hangs.
	gc.clients[0].waitUntil("the local broadcasts", func(ev []string) bool { return len(ev) >= n })

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := gc.nsp(0).FetchSockets(ctx)
	if err == nil {
		t.Error("FetchSockets with Redis hanging: no error")
	}
	if errors.Is(err, context.DeadlineExceeded) && time.Since(start) > 2*time.Second {
		t.Errorf("FetchSockets took %v: the request timeout (500ms) did not apply", time.Since(start))
	}

	gc.redis.Thaw()
	thawed = true
	if err := gc.nsp(0).Emit("e", "after"); err != nil {
		t.Fatal(err)
	}
	gc.clients[1].waitEvent(`e "after"`)
}

// The handlers of server-side events run on goroutines of their own, at
// most a bounded number at once: past it, what other nodes ask is dropped
// and counted, and the bus goes on.
func TestHandlerLimit(t *testing.T) {
	checkLeaks(t)
	// Restored after the nodes end (cleanups run last first): their
	// workers read the bound until then.
	t.Cleanup(cluster.SetMaxHandlers(2))
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	gc := newGoCluster(t, 2, cluster.Options{}, func(i int, srv *httpadapter.Server) {
		srv.Of("/").OnServerSideEmit("block", func(core.Args, func(...any) error) {
			started <- struct{}{}
			<-release
		})
	})
	defer close(release)
	for i := 0; i < 3; i++ { // limit-1, limit, limit+1
		if err := gc.nsp(0).ServerSideEmit("block", i); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		select {
		case <-started:
		case <-time.After(waitFor):
			t.Fatalf("%d handlers started, want 2", i)
		}
	}
	waitStats(t, gc.nodes[1].bus, "the third to be dropped", func(s cluster.Stats) bool { return s.Dropped == 1 })
	// Broadcasts still flow while the handlers block.
	if err := gc.nsp(0).Emit("e", "still"); err != nil {
		t.Fatal(err)
	}
	gc.clients[1].waitEvent(`e "still"`)
	select {
	case <-started:
		t.Error("a third handler started past the limit")
	default:
	}
}

// A Bus on the application's own Redis client uses it and leaves it open.
func TestUserClient(t *testing.T) {
	checkLeaks(t)
	redis := peertestRedis(t)
	co, err := rueidis.ParseURL(redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	co.DisableCache = true
	c, err := rueidis.NewClient(co)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := startNode(t, cluster.Options{Client: c}, nil)
	b := startNode(t, cluster.Options{URL: redis.URL()}, nil)
	cl := connect(t, b.url, "/", nil)
	if err := a.srv.Of("/").Emit("e", "hi"); err != nil {
		t.Fatal(err)
	}
	cl.waitEvent(`e "hi"`)
	a.stop()
	if err := c.Do(ctxT(t), c.B().Ping().Build()).Error(); err != nil {
		t.Errorf("the application's client after the bus closed: %v", err)
	}
	if _, err := cluster.New(cluster.Options{}); err == nil {
		t.Error("New without a client or a URL: no error")
	}
	if _, err := cluster.New(cluster.Options{URL: "http://x"}); err == nil {
		t.Error("New with a bad URL: no error")
	}
}
