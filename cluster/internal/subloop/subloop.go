package subloop

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"
)

const (
	// MinBackoff is the wait before subscribing again after a connection
	// that had subscribed was lost; it doubles after each failed attempt,
	// up to MaxBackoff.
	MinBackoff = 50 * time.Millisecond
	MaxBackoff = 2 * time.Second
	// CommandTimeout bounds the commands that Run sends itself.
	CommandTimeout = 5 * time.Second
)

// ErrConnectionClosed is the loss of a connection that ended without an
// error of its own.
var ErrConnectionClosed = errors.New("subscription connection closed")

// Loop says what Run subscribes to and whom it tells.
type Loop struct {
	// Hooks receive the messages and the subscription events of each
	// connection, on its reading goroutine.
	Hooks rueidis.PubSubHooks
	// Subscribe sends the subscriptions on a connection: on a new one,
	// and again on the same one each time Wake receives (so it should
	// send only what the connection lacks). An error ends the connection.
	Subscribe func(rueidis.DedicatedClient) error
	// Wake, when not nil, makes Run call Subscribe again.
	Wake <-chan struct{}
	// Pin, on a Redis Cluster, is a key whose slot's master gets the
	// connection: Run sends EXISTS Pin first (its answer does not matter,
	// a refusal included). A keyless SUBSCRIBE goes to
	// any node the client knows, replicas included, and the client's view
	// of the replicas may lag the cluster; masters are always in the view
	// that routes slots. Empty: any node.
	Pin string
	// Ended is called after each connection is released: with the error
	// that lost it and the wait before the next, or with a nil error when
	// Run stops.
	Ended func(err error, retryIn time.Duration)
	// Reconnecting is called before each connection but the first.
	Reconnecting func()
}

// Run keeps client subscribed as l says until done is closed.
func Run(client rueidis.Client, done <-chan struct{}, l Loop) {
	cluster := client.Mode() == rueidis.ClientModeCluster
	backoff := MinBackoff
	for first := true; ; first = false {
		select {
		case <-done:
			return
		default:
		}
		if !first && l.Reconnecting != nil {
			l.Reconnecting()
		}
		dc, release := client.Dedicate()
		wait := dc.SetPubSubHooks(l.Hooks)
		var err error
		if cluster && l.Pin != "" {
			err = pin(dc, l.Pin)
		}
		if err == nil {
			err = l.Subscribe(dc)
		}
		if err == nil {
			backoff = MinBackoff
			err = waitLost(dc, wait, done, l)
			if err == nil { // done
				release()
				l.Ended(nil, 0)
				return
			}
		}
		release()
		l.Ended(err, backoff)
		select {
		case <-done:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, MaxBackoff)
	}
}

// pin binds dc to the master serving the slot of key. A refusal of the
// command by that master (a user whose ACL allows only Pub/Sub) still
// binds it; a redirection (the client's view of the slots is out of date)
// or a lost connection is an error.
func pin(dc rueidis.DedicatedClient, key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	err := dc.Do(ctx, dc.B().Exists().Key(key).Build()).Error()
	if re, ok := rueidis.IsRedisErr(err); ok {
		_, moved := re.IsMoved()
		_, ask := re.IsAsk()
		if !moved && !ask && !re.IsClusterDown() && !re.IsTryAgain() {
			return nil
		}
	}
	return err
}

// waitLost waits until the connection is lost (its error) or done (nil),
// subscribing again on each wake.
func waitLost(dc rueidis.DedicatedClient, wait <-chan error, done <-chan struct{}, l Loop) error {
	for {
		select {
		case err := <-wait:
			if err == nil {
				err = ErrConnectionClosed
			}
			return err
		case <-l.Wake:
			if err := l.Subscribe(dc); err != nil {
				return err
			}
		case <-done:
			return nil
		}
	}
}
