package publoop_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/sio-go/sio/cluster/internal/publoop"
	"github.com/sio-go/sio/transport/peertest"
)

const waitFor = 15 * time.Second

// Run hands over what is queued in order, in batches of at most max, and
// once told to stop, what is still queued; then it returns.
func TestRun(t *testing.T) {
	peertest.CheckLeaks(t)
	const max = 4
	queue := make(chan int, 64)
	for i := range 10 {
		queue <- i
	}
	done := make(chan struct{})
	var (
		mu      sync.Mutex
		got     []int
		batches [][]int
	)
	first := make(chan struct{})
	hold := make(chan struct{})
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		publoop.Run(queue, done, max, func(b []int) {
			mu.Lock()
			got = append(got, b...)
			batches = append(batches, slices.Clone(b))
			n := len(batches)
			mu.Unlock()
			if n == 1 {
				close(first)
				<-hold
			}
		})
	}()
	<-first
	// Queued while a batch is being published, and after the stop: still
	// published, in order.
	for i := 10; i < 15; i++ {
		queue <- i
	}
	close(done)
	close(hold)
	select {
	case <-returned:
	case <-time.After(waitFor):
		t.Fatal("Run did not return after done")
	}
	mu.Lock()
	defer mu.Unlock()
	want := make([]int, 15)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(got, want) {
		t.Fatalf("published %v, want %v", got, want)
	}
	if !slices.Equal(batches[0], []int{0, 1, 2, 3}) {
		t.Errorf("first batch %v, want the first %d queued", batches[0], max)
	}
	for _, b := range batches {
		if len(b) == 0 || len(b) > max {
			t.Errorf("a batch of %d: %v", len(b), batches)
		}
	}
}

// A queue that never empties does not keep Run from returning: it
// publishes what is left for a bounded time only.
func TestRunFlushEnds(t *testing.T) {
	peertest.CheckLeaks(t)
	queue := make(chan int, 16)
	done := make(chan struct{})
	stopFeeding := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for {
			select {
			case queue <- 1:
			case <-stopFeeding:
				return
			}
		}
	}()
	// The queue holds messages when Run starts: with done already closed,
	// Run must still publish them, and return although more keep coming.
	deadline := time.Now().Add(waitFor)
	for len(queue) < cap(queue) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	returned := make(chan struct{})
	var published atomic.Int64
	go func() {
		defer close(returned)
		publoop.Run(queue, done, 8, func(b []int) {
			published.Add(int64(len(b)))
			time.Sleep(time.Millisecond) // a round trip
		})
	}()
	close(done)
	select {
	case <-returned:
	case <-time.After(waitFor):
		t.Fatal("Run still publishes a queue that never empties")
	}
	close(stopFeeding)
	<-fed
	if published.Load() == 0 {
		t.Error("nothing published")
	}
}

func TestStale(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{&net.OpError{Op: "write", Err: syscall.EPIPE}, true},
		{net.ErrClosed, true},
		{context.DeadlineExceeded, false},
		{syscall.ECONNREFUSED, false},
		{errors.New("NOPERM"), false},
	} {
		if got := publoop.Stale(c.err); got != c.want {
			t.Errorf("Stale(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestRandomID(t *testing.T) {
	a, b := publoop.RandomID(8), publoop.RandomID(8)
	if len(a) != 16 || len(b) != 16 || a == b {
		t.Fatalf("%q, %q: want two different 16-digit ids", a, b)
	}
	for _, r := range a {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			t.Fatalf("%q is not hex", a)
		}
	}
}

// A Publisher on a real redis-server: what Redis accepts arrives in order
// and is counted; what it refuses is counted and reported; after Redis
// restarts, the next batch is published on a new connection.
func TestPublisher(t *testing.T) {
	peertest.CheckLeaks(t)
	redis := peertest.StartRedis(t)
	client := newClient(t, redis.Addr(), "")
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%v", sharded), func(t *testing.T) {
			var published, failed atomic.Uint64
			p := &publoop.Publisher{Client: client, Sharded: sharded, Published: &published, Failed: &failed,
				Failure: func(m publoop.Msg, err error) { t.Errorf("failure: %s: %v", m.Channel, err) }}
			sub := subscribe(t, client, sharded, "a")
			msgs := []publoop.Msg{{"a", []byte("1")}, {"nobody", []byte("x")}, {"a", []byte("2\x00\xff")}}
			p.Send(msgs)
			sub.wait(t, "1", "2\x00\xff")
			if published.Load() != 3 || failed.Load() != 0 {
				t.Fatalf("published %d, failed %d; want 3, 0", published.Load(), failed.Load())
			}
			p.Send(nil)
			if published.Load() != 3 {
				t.Fatalf("published %d after an empty batch", published.Load())
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		if err := client.Do(context.Background(), client.B().AclSetuser().Username("pub").Rule("on", ">secret", "~*", "&*", "+@all", "-publish").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		u := newClient(t, redis.Addr(), "pub")
		var published, failed atomic.Uint64
		var reported []string
		p := &publoop.Publisher{Client: u, Published: &published, Failed: &failed,
			Failure: func(m publoop.Msg, err error) {
				if re, ok := rueidis.IsRedisErr(err); !ok || !strings.HasPrefix(re.Error(), "NOPERM") {
					t.Errorf("failure: %v, want NOPERM", err)
				}
				reported = append(reported, m.Channel)
			}}
		p.Send([]publoop.Msg{{"a", []byte("1")}, {"b", []byte("2")}})
		if published.Load() != 0 || failed.Load() != 2 || !slices.Equal(reported, []string{"a", "b"}) {
			t.Fatalf("published %d, failed %d, reported %v; want 0, 2, [a b]", published.Load(), failed.Load(), reported)
		}
		var ps atomic.Uint64
		(&publoop.Publisher{Client: u, Sharded: true, Published: &ps, Failed: &failed}).Send([]publoop.Msg{{"a", []byte("1")}})
		if ps.Load() != 1 || failed.Load() != 2 {
			t.Fatalf("SPUBLISH, which the user may run: published %d, failed %d", ps.Load(), failed.Load())
		}
	})

	t.Run("restart", func(t *testing.T) {
		var published, failed atomic.Uint64
		p := &publoop.Publisher{Client: client, Published: &published, Failed: &failed,
			Failure: func(m publoop.Msg, err error) { t.Errorf("failure: %s: %v", m.Channel, err) }}
		p.Send([]publoop.Msg{{"a", []byte("before")}})
		redis.Restart()
		sub := subscribe(t, newClient(t, redis.Addr(), ""), false, "a")
		p.Send([]publoop.Msg{{"a", []byte("after")}})
		sub.wait(t, "after")
		if published.Load() != 2 || failed.Load() != 0 {
			t.Fatalf("published %d, failed %d; want 2, 0", published.Load(), failed.Load())
		}
	})
}

// newClient is a client of the server at addr, as user when not empty.
func newClient(t *testing.T, addr, user string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, Username: user, Password: "secret", DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// subscription collects the messages of one channel.
type subscription struct {
	mu   sync.Mutex
	got  []string
	note chan struct{}
}

// subscribe subscribes to channel (SSUBSCRIBE when sharded) on a
// connection of its own until the test ends, and returns once Redis has
// confirmed it.
func subscribe(t *testing.T, c rueidis.Client, sharded bool, channel string) *subscription {
	t.Helper()
	s := &subscription{note: make(chan struct{}, 1)}
	confirmed := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	ctx = rueidis.WithOnSubscriptionHook(ctx, func(rueidis.PubSubSubscription) { once.Do(func() { close(confirmed) }) })
	cmd := c.B().Subscribe().Channel(channel).Build()
	if sharded {
		cmd = c.B().Ssubscribe().Channel(channel).Build()
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		_ = c.Receive(ctx, cmd, func(m rueidis.PubSubMessage) {
			s.mu.Lock()
			s.got = append(s.got, m.Message)
			s.mu.Unlock()
			select {
			case s.note <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-ended })
	select {
	case <-confirmed:
	case <-time.After(waitFor):
		t.Fatalf("%s not subscribed", channel)
	}
	return s
}

// wait waits until the messages received are want, in order.
func (s *subscription) wait(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		s.mu.Lock()
		got := slices.Clone(s.got)
		s.mu.Unlock()
		if slices.Equal(got, want) {
			return
		}
		if len(got) >= len(want) {
			t.Fatalf("received %q, want %q", got, want)
		}
		select {
		case <-s.note:
		case <-deadline:
			t.Fatalf("received %q, want %q", got, want)
		}
	}
}
