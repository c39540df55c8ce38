package eio

import (
	"errors"
	"strconv"
)

// ErrorCode names what a peer got wrong.
type ErrorCode uint8

// The protocol error codes. Each closes the session with ReasonParseError,
// except where noted.
const (
	ErrEmptyPacket      ErrorCode = iota + 1 // a packet with no type
	ErrUnknownType                           // a type digit outside 0..6
	ErrBadBase64                             // a "b" packet of a polling payload is not base64
	ErrPayloadTooLarge                       // a body or frame over Limits.MaxPayload
	ErrTooManyPackets                        // a payload with more than Limits.MaxPacketsPerPayload packets
	ErrUnexpectedPacket                      // a packet this role does not accept in this state
	ErrBadHandshake                          // an open packet whose JSON is not a handshake
)

var errorCodeText = [...]string{
	ErrEmptyPacket:      "empty packet",
	ErrUnknownType:      "unknown packet type",
	ErrBadBase64:        "bad base64 in binary packet",
	ErrPayloadTooLarge:  "payload too large",
	ErrTooManyPackets:   "too many packets in payload",
	ErrUnexpectedPacket: "unexpected packet",
	ErrBadHandshake:     "bad handshake",
}

func (c ErrorCode) String() string {
	if int(c) < len(errorCodeText) && errorCodeText[c] != "" {
		return errorCodeText[c]
	}
	return "ErrorCode(" + strconv.Itoa(int(c)) + ")"
}

// Error is a protocol violation by the peer. Offset is the byte offset in the
// frame or payload where it was found; Limit is the limit crossed, if any.
type Error struct {
	Code   ErrorCode
	Offset int
	Limit  int
	Detail string
}

func (e *Error) Error() string {
	s := "eio: " + e.Code.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	s += " at offset " + strconv.Itoa(e.Offset)
	if e.Limit > 0 {
		s += " (limit " + strconv.Itoa(e.Limit) + ")"
	}
	return s
}

// Local misuse, not the peer's fault.
var (
	// ErrClosed is returned by commands on a closed session.
	ErrClosed = errors.New("eio: session closed")
	// ErrQueueFull is returned by Send when the output queue is over its
	// limit and the packet was volatile (it is dropped); a non-volatile
	// packet closes the session as a slow consumer instead.
	ErrQueueFull = errors.New("eio: output queue full")
	// ErrSlowConsumer is the cause recorded when a session is closed because
	// its peer did not read its output fast enough.
	ErrSlowConsumer = errors.New("eio: slow consumer")
	// ErrUpgrade is returned by StartProbe when no upgrade may start.
	ErrUpgrade = errors.New("eio: upgrade not possible in this state")
)
