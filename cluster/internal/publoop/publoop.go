package publoop

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/rueidis"
	"github.com/sio-go/sio/cluster/internal/subloop"
)

const (
	// CommandTimeout bounds one batch of [Publisher.Send], its second try
	// included.
	CommandTimeout = subloop.CommandTimeout
	// FlushTime bounds the publishing of what is still queued when [Run]
	// is told to stop.
	FlushTime = time.Second
)

// Run hands what queue holds to publish, in the order queued, up to max
// at a time (all that is there, without waiting for more), until done is
// closed; then what is still queued, for at most FlushTime. publish runs
// on Run's goroutine, one batch at a time; the slice is reused after it
// returns.
func Run[T any](queue <-chan T, done <-chan struct{}, max int, publish func([]T)) {
	batch := make([]T, 0, max)
	for {
		select {
		case m := <-queue:
			batch = append(batch[:0], m)
		case <-done:
			deadline := time.Now().Add(FlushTime)
			for time.Now().Before(deadline) {
				batch = more(queue, batch[:0], max)
				if len(batch) == 0 {
					return
				}
				publish(batch)
			}
			return
		}
		publish(more(queue, batch, max))
	}
}

// more appends to batch what queue holds now, up to max in all.
func more[T any](queue <-chan T, batch []T, max int) []T {
	for len(batch) < max {
		select {
		case m := <-queue:
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}

// Msg is one message for a channel.
type Msg struct {
	Channel string
	Payload []byte
}

// Publisher publishes batches of messages on one client. Set its fields
// before the first Send.
type Publisher struct {
	Client rueidis.Client
	// Sharded publishes with SPUBLISH, not PUBLISH.
	Sharded bool
	// Published counts the messages Redis accepted; Failed those it
	// refused or could not take.
	Published, Failed *atomic.Uint64
	// Failure, when not nil, is told of each failed message, after it is
	// counted (to log it).
	Failure func(m Msg, err error)

	cmds rueidis.Commands // reused by each Send
}

// Send publishes msgs in order, in one round trip. Those that met a
// connection that Redis had closed while it was idle (a restart), found
// dead only now, were not delivered: they are sent once more, on the
// connection the client makes anew. Send is for one goroutine at a time.
func (p *Publisher) Send(msgs []Msg) {
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	var retry []Msg
	for i, r := range p.Client.DoMulti(ctx, p.commands(msgs)...) {
		switch err := r.Error(); {
		case err == nil:
			p.Published.Add(1)
		case Stale(err):
			retry = append(retry, msgs[i])
		default:
			p.fail(msgs[i], err)
		}
	}
	if len(retry) == 0 {
		return
	}
	for i, r := range p.Client.DoMulti(ctx, p.commands(retry)...) {
		if err := r.Error(); err != nil {
			p.fail(retry[i], err)
		} else {
			p.Published.Add(1)
		}
	}
}

func (p *Publisher) commands(msgs []Msg) rueidis.Commands {
	p.cmds = p.cmds[:0]
	for _, m := range msgs {
		if p.Sharded {
			p.cmds = append(p.cmds, p.Client.B().Spublish().Channel(m.Channel).Message(rueidis.BinaryString(m.Payload)).Build())
		} else {
			p.cmds = append(p.cmds, p.Client.B().Publish().Channel(m.Channel).Message(rueidis.BinaryString(m.Payload)).Build())
		}
	}
	return p.cmds
}

func (p *Publisher) fail(m Msg, err error) {
	p.Failed.Add(1)
	if p.Failure != nil {
		p.Failure(m, err)
	}
}

// Stale reports an error of a connection that the server had closed
// before the command was written: the command is safe to send again.
func Stale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// Limited logs warnings, at most one a second of each kind, so that a
// fault that repeats (Redis away, a full queue) shows without flooding
// the log. Its zero value logs to slog.Default().
type Limited struct {
	Log  *slog.Logger
	last sync.Map // kind -> *atomic.Int64 (unix nanos of the last line)
}

// Warn logs msg with args at warning level, unless a line of the same
// kind was logged less than a second ago. It is safe for concurrent use.
func (l *Limited) Warn(kind, msg string, args ...any) {
	now := time.Now().UnixNano()
	v, _ := l.last.LoadOrStore(kind, new(atomic.Int64))
	last := v.(*atomic.Int64)
	prev := last.Load()
	if now-prev < int64(time.Second) || !last.CompareAndSwap(prev, now) {
		return
	}
	log := l.Log
	if log == nil {
		log = slog.Default()
	}
	log.Warn(msg, args...)
}

// RandomID returns n random bytes in hex: ids of nodes and requests.
func RandomID(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}
