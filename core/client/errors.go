package client

import (
	"errors"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// The disconnect reasons a socket reports, as the reference client names
// them.
const (
	// ReasonServerDisconnect: the server disconnected the socket. It does
	// not reconnect on its own; call Connect.
	ReasonServerDisconnect = "io server disconnect"
	// ReasonClientDisconnect: the application called Disconnect.
	ReasonClientDisconnect = "io client disconnect"
	// ReasonPingTimeout: the server stopped pinging.
	ReasonPingTimeout = "ping timeout"
	// ReasonTransportClose: the server closed the connection, or it was
	// lost.
	ReasonTransportClose = "transport close"
	// ReasonTransportError: the connection failed (a request refused, a
	// write that failed, a slow server).
	ReasonTransportError = "transport error"
	// ReasonParseError: the server sent something that does not parse or
	// breaks a limit.
	ReasonParseError = "parse error"
	// ReasonForcedClose: this side closed the session.
	ReasonForcedClose = "forced close"
)

// reasonOf maps an Engine.IO close reason to a socket's disconnect reason.
func reasonOf(r eio.Reason) string {
	switch r {
	case eio.ReasonTransportClose:
		return ReasonTransportClose
	case eio.ReasonTransportError:
		return ReasonTransportError
	case eio.ReasonPingTimeout:
		return ReasonPingTimeout
	case eio.ReasonParseError:
		return ReasonParseError
	case eio.ReasonForcedClose, eio.ReasonNone:
		return ReasonForcedClose
	}
	return r.String()
}

var (
	// ErrDisconnected is given to the ack callbacks of events sent on a
	// connection that then went away, and returned by Ack once the socket
	// is no longer connected.
	ErrDisconnected = errors.New("socket has been disconnected")
	// ErrAckTimeout is given to an ack callback whose answer did not come
	// by its deadline. Its text is the reference's.
	ErrAckTimeout = errors.New("operation has timed out")
	// ErrTimeout fails a connection attempt whose handshake did not arrive
	// within Config.Timeout. Its text is the reference's.
	ErrTimeout = errors.New("timeout")
	// ErrReservedEvent is returned when emitting a reserved event name.
	ErrReservedEvent = errors.New("sio: reserved event name")
	// ErrClosed is returned by commands once the manager is closed, and
	// given to the ack callbacks still pending when it closes.
	ErrClosed = errors.New("sio: client closed")
	// ErrBufferFull is returned by Emit when a socket that is not
	// connected already holds Config.MaxBufferedPackets events.
	ErrBufferFull = errors.New("sio: send buffer full")
	// ErrDropped is returned by a volatile emit that was dropped: the
	// socket was not connected or the output queue was full.
	ErrDropped = errors.New("sio: volatile packet dropped")
	// ErrBadAuth is returned by SetAuth for a value that is not a JSON
	// object.
	ErrBadAuth = errors.New("sio: auth must be a JSON object")
)

// ConnectError is the server's refusal of a namespace connection
// (CONNECT_ERROR): a middleware's message and data, or "Invalid namespace".
type ConnectError struct {
	Message string
	// Data is the JSON the server attached, if any (Data.JSON is nil
	// otherwise). Bind it with Data.Bind.
	Data sio.Raw
}

func (e *ConnectError) Error() string { return e.Message }

// ConnectFailure is a connection attempt that failed before the handshake:
// the transport could not be opened (Err), or the handshake did not come in
// time (ErrTimeout).
type ConnectFailure struct {
	Reason string // the Engine.IO close reason
	Err    error  // the cause, if any
}

func (e *ConnectFailure) Error() string {
	if e.Err != nil {
		return "sio: connection failed: " + e.Err.Error()
	}
	return "sio: connection failed: " + e.Reason
}

func (e *ConnectFailure) Unwrap() error { return e.Err }

func reserved(event string) bool {
	switch event {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}
