package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/sio-go/sio/cluster"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
	"github.com/sio-go/sio/transport"
	"github.com/sio-go/sio/transport/peertest"
)

// waitFor is how long a test waits for an event before failing.
const waitFor = 15 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testLogger logs to stderr when SIO_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("SIO_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return quiet
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// node is one Go server of a test's cluster, on a loopback port.
type node struct {
	t   testing.TB
	bus *cluster.Bus
	srv *httpadapter.Server
	hs  *httptest.Server
	url string

	stopOnce sync.Once
}

// startNode starts a server whose adapter is a Bus on redisURL; setup
// declares its handlers before the first request. It returns once the bus
// is subscribed.
func startNode(t testing.TB, opts cluster.Options, setup func(srv *httpadapter.Server)) *node {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 2 * time.Second
	}
	bus, err := cluster.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httpadapter.New(httpadapter.Options{Adapter: bus.Adapter, Logger: testLogger()})
	if setup != nil {
		setup(srv)
	}
	hs := httptest.NewServer(srv)
	n := &node{t: t, bus: bus, srv: srv, hs: hs, url: hs.URL}
	t.Cleanup(n.stop)
	if err := bus.WaitSubscribed(ctxT(t)); err != nil {
		t.Fatalf("bus not subscribed: %v", err)
	}
	return n
}

// stop closes the server, then the bus. Idempotent.
func (n *node) stop() {
	n.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.srv.Close(ctx); err != nil {
			n.t.Errorf("server close: %v", err)
		}
		n.hs.Close()
		if err := n.bus.Close(); err != nil {
			n.t.Errorf("bus close: %v", err)
		}
	})
}

// received is one event a client received.
type received struct {
	name string
	args core.Args
}

func (r received) String() string {
	parts := []string{r.name}
	for _, a := range r.args {
		if len(a.Attachments) > 0 {
			var v any
			_ = a.Bind(&v)
			parts = append(parts, fmt.Sprintf("%v", v))
			continue
		}
		parts = append(parts, string(a.JSON))
	}
	return strings.Join(parts, " ")
}

// tclient is a Go client connected to a node's namespace, recording every
// event it receives.
type tclient struct {
	t    testing.TB
	c    *transport.Client
	s    *transport.ClientSocket
	mu   sync.Mutex
	got  []received
	note chan struct{}
}

func connect(t testing.TB, url, nsp string, auth any) *tclient {
	t.Helper()
	c, err := transport.Dial(ctxT(t), url, &transport.ClientOptions{Transports: []string{"websocket"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	tc := &tclient{t: t, c: c, note: make(chan struct{}, 1)}
	t.Cleanup(func() { _ = c.Close() })
	tc.s = c.Socket(nsp, auth)
	tc.s.OnAny(func(e *transport.ClientEvent) {
		tc.mu.Lock()
		tc.got = append(tc.got, received{name: e.Name, args: e.Args})
		tc.mu.Unlock()
		select {
		case tc.note <- struct{}{}:
		default:
		}
	})
	if err := tc.s.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return tc
}

func (c *tclient) id() string { return c.s.ID() }

// events returns what the client received so far, as text.
func (c *tclient) events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.got))
	for i, r := range c.got {
		out[i] = r.String()
	}
	return out
}

// waitUntil waits until cond holds for what the client received.
func (c *tclient) waitUntil(what string, cond func([]string) bool) []string {
	c.t.Helper()
	deadline := time.After(waitFor)
	for {
		ev := c.events()
		if cond(ev) {
			return ev
		}
		select {
		case <-c.note:
		case <-deadline:
			c.t.Fatalf("client %s: timed out waiting for %s; received %q", c.id(), what, ev)
		}
	}
}

// waitEvent waits until the client received an event whose text is ev.
func (c *tclient) waitEvent(ev string) {
	c.t.Helper()
	c.waitUntil(strconv.Quote(ev), func(got []string) bool { return slices.Contains(got, ev) })
}

// checkLeaks fails the test if goroutines started during it are still
// alive once its cleanups ran (register it first).
func checkLeaks(t *testing.T) {
	peertest.CheckLeaks(t,
		"os/exec.(*Cmd).Start", // a child's output copier ends after the child
		// The Redis Cluster client closes the connections that a topology
		// refresh replaced 5s later, on a goroutine of its own that Close
		// does not stop; it ends by itself.
		"rueidis.(*clusterClient)._refresh.func",
	)
}

// sorted returns a sorted copy.
func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

type transportEvent = transport.ClientEvent

// startHungNode subscribes to channel on Redis and never answers, as a node
// whose process hangs: Redis counts it, nothing comes back from it.
func startHungNode(t testing.TB, redisURL, channel string) func() {
	t.Helper()
	co, err := rueidis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	co.DisableCache = true
	c, err := rueidis.NewClient(co)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	subscribed := make(chan struct{})
	done := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(done)
		hook := rueidis.WithOnSubscriptionHook(ctx, func(rueidis.PubSubSubscription) { once.Do(func() { close(subscribed) }) })
		_ = c.Receive(hook, c.B().Subscribe().Channel(channel).Build(), func(rueidis.PubSubMessage) {})
	}()
	stop := func() {
		cancel()
		<-done
		c.Close()
	}
	t.Cleanup(stop)
	select {
	case <-subscribed:
	case <-time.After(waitFor):
		t.Fatal("hung node not subscribed")
	}
	return stop
}

func peertestRedis(t testing.TB) *peertest.Redis { return peertest.StartRedis(t) }

// waitShardSubscribers waits until channel has n sharded subscribers on
// the Redis at url.
func waitShardSubscribers(t testing.TB, url, channel string, n int64) {
	t.Helper()
	co, err := rueidis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	co.DisableCache = true
	c, err := rueidis.NewClient(co)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(waitFor)
	for {
		var (
			total int64
			err   error
		)
		for _, nc := range c.Nodes() {
			m, e := nc.Do(ctxT(t), nc.B().PubsubShardnumsub().Channel(channel).Build()).AsIntMap()
			if e != nil {
				err = e
			}
			total += m[channel]
		}
		if err == nil && total >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel %s: %d sharded subscribers (%v), want %d", channel, total, err, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
