package core

import (
	"fmt"

	"github.com/sio-go/sio/core/sio"
)

// Args are the arguments of an event or an acknowledgement as the peer sent
// them. Each keeps its JSON bytes as they came, so passing one on to Emit
// sends the same bytes out.
type Args []sio.Raw

// Bind decodes the arguments in order into the values dst points to; a nil
// pointer skips an argument. Missing arguments leave their targets as they
// are. []byte anywhere in a target receives binary data.
func (a Args) Bind(dst ...any) error {
	for i, d := range dst {
		if d == nil || i >= len(a) {
			continue
		}
		if err := a[i].Bind(d); err != nil {
			return fmt.Errorf("sio: argument %d: %w", i, err)
		}
	}
	return nil
}

// Values returns the arguments as values for Emit: passing them on sends
// the same bytes. Each is a *sio.Raw that points into a (a pointer goes
// into an interface without an allocation of its own).
func (a Args) Values() []any {
	v := make([]any, len(a))
	for i := range a {
		v[i] = &a[i]
	}
	return v
}

// Event is one event received from a client.
type Event struct {
	Socket *Socket
	Name   string
	Args   Args
	ackID  int64
	hasAck bool
	acked  bool
}

// Bind decodes the event's arguments in order; see Args.Bind.
func (e *Event) Bind(dst ...any) error { return e.Args.Bind(dst...) }

// WantsAck reports whether the client asked for an acknowledgement.
func (e *Event) WantsAck() bool { return e.hasAck }

// Ack answers the client's acknowledgement callback with args. It does
// nothing when no ack was asked for, and sends at most one answer.
func (e *Event) Ack(args ...any) error {
	if !e.hasAck || e.acked {
		return nil
	}
	e.acked = true
	return e.Socket.sendAck(e.ackID, args)
}

// EventHandler handles an event.
type EventHandler func(e *Event)

// AckFunc receives the answer to an acknowledged emit, or err: ErrAckTimeout
// when no answer came in time, ErrDisconnected when the socket went away
// first.
type AckFunc func(args Args, err error)
