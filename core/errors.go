package core

import (
	"errors"
	"fmt"
)

var (
	// ErrDisconnected is returned when emitting on a socket that is no
	// longer connected, and given to the ack callbacks pending when a socket
	// disconnects.
	ErrDisconnected = errors.New("sio: socket disconnected")
	// ErrAckTimeout is given to an ack callback whose answer did not come in
	// time. Its text is the reference's.
	ErrAckTimeout = errors.New("operation has timed out")
	// ErrReservedEvent is returned, wrapped with the event's name, when
	// emitting a reserved event name: test with errors.Is.
	ErrReservedEvent = errors.New("sio: reserved event name")
	// ErrNoTimeout is returned by calls that wait on other nodes when no
	// timeout was set.
	ErrNoTimeout    = errors.New("sio: a timeout is required")
	errOneNamespace = errors.New("sio: ServerSideEmitWithAck needs exactly one namespace")
	// ErrAckIDInUse is given to an ack callback whose id is still pending
	// on the socket from an earlier emit.
	ErrAckIDInUse = errors.New("sio: ack id in use")
)

// ConnectError refuses a namespace connection from a middleware. Message and
// Data reach the client's connect_error handler as err.message and err.data.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// reservedError names the reserved event an application tried to emit.
func reservedError(event string) error {
	return fmt.Errorf("%w: %q", ErrReservedEvent, event)
}

// reservedServerSide names cannot be sent with ServerSideEmit: a
// namespace's own events, as the reference reserves them (a socket's
// reserved names, such as "disconnect", may travel between nodes).
func reservedServerSide(event string) bool {
	switch event {
	case "connect", "connection", "new_namespace":
		return true
	}
	return false
}

// reserved names cannot be emitted by users.
func reserved(event string) bool {
	switch event {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}
