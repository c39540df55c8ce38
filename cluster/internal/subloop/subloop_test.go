package subloop_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/sio-go/sio/cluster/internal/subloop"
	"github.com/sio-go/sio/transport/peertest"
)

const waitFor = 15 * time.Second

// A loop on a real redis-server: it subscribes, subscribes again to what
// a wake adds, comes back by itself after Redis restarts, and stops when
// told.
func TestRun(t *testing.T) {
	peertest.CheckLeaks(t)
	redis := peertest.StartRedis(t)
	co, err := rueidis.ParseURL(redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	co.DisableCache = true
	client, err := rueidis.NewClient(co)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	var (
		mu           sync.Mutex
		channels     = []string{"a"}
		sent         = map[string]bool{}
		subscribed   = map[string]bool{}
		messages     []string
		ends         []error
		reconnecting int
		note         = make(chan struct{}, 1)
	)
	poke := func() {
		select {
		case note <- struct{}{}:
		default:
		}
	}
	await := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.After(waitFor)
		for {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			select {
			case <-note:
			case <-time.After(10 * time.Millisecond):
			case <-deadline:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	stopped := make(chan struct{})
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { close(done) }) }
	t.Cleanup(func() { stop(); <-stopped })
	go func() {
		defer close(stopped)
		subloop.Run(client, done, subloop.Loop{
			Hooks: rueidis.PubSubHooks{
				OnMessage: func(m rueidis.PubSubMessage) {
					mu.Lock()
					messages = append(messages, m.Channel+":"+m.Message)
					mu.Unlock()
					poke()
				},
				OnSubscription: func(s rueidis.PubSubSubscription) {
					mu.Lock()
					subscribed[s.Channel] = s.Kind == "subscribe"
					mu.Unlock()
					poke()
				},
			},
			Subscribe: func(dc rueidis.DedicatedClient) error {
				mu.Lock()
				var todo []string
				for _, c := range channels {
					if !sent[c] {
						todo = append(todo, c)
					}
				}
				mu.Unlock()
				if len(todo) == 0 {
					return nil
				}
				ctx, cancel := context.WithTimeout(context.Background(), subloop.CommandTimeout)
				defer cancel()
				if err := dc.Do(ctx, dc.B().Subscribe().Channel(todo...).Build()).Error(); err != nil {
					return err
				}
				mu.Lock()
				for _, c := range todo {
					sent[c] = true
				}
				mu.Unlock()
				return nil
			},
			Wake:         wake,
			Reconnecting: func() { mu.Lock(); reconnecting++; mu.Unlock() },
			Ended: func(err error, retryIn time.Duration) {
				mu.Lock()
				ends = append(ends, err)
				clear(sent)
				clear(subscribed)
				mu.Unlock()
				poke()
			},
		})
	}()
	publish := func(ch, msg string) {
		t.Helper()
		err := client.Do(context.Background(), client.B().Publish().Channel(ch).Message(msg).Build()).Error()
		if err != nil {
			// The test's own connection may be the one Redis closed
			// when it restarted: once more, on a new one.
			err = client.Do(context.Background(), client.B().Publish().Channel(ch).Message(msg).Build()).Error()
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	await("a subscribed", func() bool { return subscribed["a"] })
	publish("a", "1")
	await("a:1", func() bool { return slices.Contains(messages, "a:1") })

	// A wake subscribes to what was added, on the same connection.
	mu.Lock()
	channels = append(channels, "b")
	mu.Unlock()
	wake <- struct{}{}
	await("b subscribed", func() bool { return subscribed["b"] })
	publish("b", "2")
	await("b:2", func() bool { return slices.Contains(messages, "b:2") })

	// Redis restarts: the connection is lost, and the loop subscribes to
	// both again by itself.
	redis.Restart()
	await("the loss", func() bool { return len(ends) >= 1 })
	await("both subscribed again", func() bool { return subscribed["a"] && subscribed["b"] })
	publish("a", "3")
	publish("b", "4")
	await("a:3 and b:4", func() bool { return slices.Contains(messages, "a:3") && slices.Contains(messages, "b:4") })
	mu.Lock()
	if reconnecting < 1 || ends[0] == nil {
		t.Errorf("reconnecting %d, ends %v; want a reconnect after an error", reconnecting, ends)
	}
	mu.Unlock()

	// Stopping ends the connection with a nil error, and Run returns.
	stop()
	select {
	case <-stopped:
	case <-time.After(waitFor):
		t.Fatal("Run did not return after done")
	}
	mu.Lock()
	defer mu.Unlock()
	if last := ends[len(ends)-1]; last != nil {
		t.Errorf("last end %v, want nil", last)
	}
	for _, e := range ends[:len(ends)-1] {
		if e == nil || errors.Is(e, context.Canceled) {
			t.Errorf("a loss without its error: %v", ends)
		}
	}
}
