package client

import (
	"time"

	"github.com/sio-go/sio/core"
)

// Args are the arguments of an event or an acknowledgement as the server
// sent them; the server's own type, so passing them on sends the same bytes.
type Args = core.Args

// Event is one event received from the server.
type Event struct {
	Socket *Socket
	Name   string
	Args   Args
	ackID  int64
	hasAck bool
	acked  bool
}

// Bind decodes the event's arguments in order; see core.Args.Bind.
func (e *Event) Bind(dst ...any) error { return e.Args.Bind(dst...) }

// WantsAck reports whether the server asked for an acknowledgement.
func (e *Event) WantsAck() bool { return e.hasAck }

// Ack answers the server's acknowledgement callback with args. It does
// nothing when no ack was asked for, and sends at most one answer.
func (e *Event) Ack(args ...any) error {
	if !e.hasAck || e.acked {
		return nil
	}
	e.acked = true
	return e.Socket.sendAck(e.ackID, args)
}

// Handler handles an event.
type Handler func(e *Event)

// AckFunc receives the server's answer to an acknowledged emit, or err:
// ErrAckTimeout when no answer came by the deadline, ErrDisconnected when
// the connection went away first, ErrClosed when the manager closed. It is
// called exactly once for every emit that returned no error.
type AckFunc func(args Args, err error)

// EmitOptions are the flags of one emit.
type EmitOptions struct {
	// Ack, when set, asks the server for an acknowledgement.
	Ack AckFunc
	// Deadline, when not zero, fails the ack with ErrAckTimeout at that
	// instant of the caller's clock.
	Deadline time.Time
	// Volatile drops the event (ErrDropped) rather than buffer it when the
	// socket is not connected or the output queue is full.
	Volatile bool
}

// hooks is a list of callbacks with ids, so that each can be removed.
type hooks[F any] struct {
	list []hook[F]
}

type hook[F any] struct {
	id   uint64
	fn   F
	once bool
}

func (h *hooks[F]) add(id uint64, fn F, once bool) {
	h.list = append(h.list, hook[F]{id: id, fn: fn, once: once})
}

func (h *hooks[F]) remove(id uint64) {
	for i, e := range h.list {
		if e.id == id {
			h.list = append(h.list[:i:i], h.list[i+1:]...)
			return
		}
	}
}

// take returns the callbacks to run now and drops the once ones.
func (h *hooks[F]) take() []F {
	if len(h.list) == 0 {
		return nil
	}
	out := make([]F, 0, len(h.list))
	kept := h.list[:0:0]
	for _, e := range h.list {
		out = append(out, e.fn)
		if !e.once {
			kept = append(kept, e)
		}
	}
	if len(kept) != len(h.list) {
		h.list = kept
	}
	return out
}

// calls are the callbacks an operation collected under the manager's lock,
// to run once it is released.
type calls []func()

func (q *calls) add(f func()) { *q = append(*q, f) }

func (q calls) run() {
	for _, f := range q {
		f()
	}
}
