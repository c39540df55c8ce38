package cluster

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sio-go/sio/core"
)

// ErrTimeout is matched (errors.Is) by every *TimeoutError.
var ErrTimeout = errors.New("cluster: request timed out")

// TimeoutError is a request to the other nodes that ended at its timeout
// without every answer. The call that returns it also returns what the
// nodes that did answer sent. It matches ErrTimeout (errors.Is), and, for
// a server-side emit (ServerSideEmitWithAck), core.ErrAckTimeout too.
type TimeoutError struct {
	// Op is the request: "fetchSockets", "allRooms" or "serverSideEmit".
	Op string
	// Timeout is how long the request waited.
	Timeout time.Duration
	// Expected is the number of answers awaited (the other nodes that
	// Redis counted when the request started); Received came in time.
	Expected, Received int
	// Answered are the ids of the nodes that answered and said who they
	// are (Go nodes do; Node.js nodes answer anonymously).
	Answered []string
	// Missing are the ids of nodes seen on the bus lately that did not
	// answer: those the request most likely waited for. Nodes that never
	// published anything cannot be named.
	Missing []string
}

func (e *TimeoutError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster: %s: timeout after %v: %d of %d node(s) answered", e.Op, e.Timeout, e.Received, e.Expected)
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, "; no answer from %s", strings.Join(e.Missing, ", "))
	}
	if unnamed := e.Expected - e.Received - len(e.Missing); unnamed > 0 {
		if len(e.Missing) > 0 {
			fmt.Fprintf(&b, " and %d unnamed node(s)", unnamed)
		} else {
			fmt.Fprintf(&b, "; %d node(s) did not answer", unnamed)
		}
	}
	return b.String()
}

// Is reports ErrTimeout, and core.ErrAckTimeout for a server-side emit.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == core.ErrAckTimeout && e.Op == "serverSideEmit"
}

// MessageError is a message from the bus that could not be decoded; it is
// counted in Stats.Invalid and logged, and the message is ignored.
type MessageError struct {
	Channel string
	Err     error
}

func (e *MessageError) Error() string {
	return fmt.Sprintf("cluster: bad message on %s: %v", e.Channel, e.Err)
}

func (e *MessageError) Unwrap() error { return e.Err }

// ErrUnsupported is returned by AllRooms with the sharded protocol, which
// has no such request (the local rooms come with it).
var ErrUnsupported = errors.New("cluster: not part of the sharded protocol")
