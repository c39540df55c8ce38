package sio

import "strconv"

// ErrorCode names what went wrong. Codes up to ErrCodeUnexpectedText are
// protocol violations by the peer, found by the [Decoder], [SplitArgs] or
// [Raw.Bind]; the others are local encoding failures found by the [Encoder].
type ErrorCode uint8

// The error codes.
const (
	ErrCodeSyntax              ErrorCode = iota + 1 // malformed header or JSON
	ErrCodeUnknownType                              // a type digit outside 0..6
	ErrCodeBadNamespace                             // a namespace with control characters or invalid UTF-8
	ErrCodeBadAckID                                 // an ack id over 2^53-1 or too many digits
	ErrCodeBadPayload                               // valid JSON of the wrong shape for the packet type
	ErrCodeTooManyAttachments                       // an attachment count over Limits.MaxAttachments
	ErrCodeAttachmentsTooLarge                      // attachments over Limits.MaxAttachmentBytes in total
	ErrCodeTooDeep                                  // JSON nesting over Limits.MaxDepth (or the encoder's depth bound)
	ErrCodeTooLarge                                 // a text frame over Limits.MaxPacketBytes
	ErrCodeUnexpectedBinary                         // a binary frame while no attachment is awaited
	ErrCodeBadPlaceholder                           // a placeholder whose num is not an attachment index
	ErrCodeUnexpectedText                           // a text frame while attachments are awaited
	ErrCodeUnsupported                              // a Go value the encoder cannot write (channel, NaN, ...)
	ErrCodeMarshaler                                // a MarshalJSON or MarshalText method failed or wrote invalid JSON
)

var errorCodeText = [...]string{
	ErrCodeSyntax:              "syntax error",
	ErrCodeUnknownType:         "unknown packet type",
	ErrCodeBadNamespace:        "bad namespace",
	ErrCodeBadAckID:            "bad ack id",
	ErrCodeBadPayload:          "bad payload",
	ErrCodeTooManyAttachments:  "too many attachments",
	ErrCodeAttachmentsTooLarge: "attachments too large",
	ErrCodeTooDeep:             "nesting too deep",
	ErrCodeTooLarge:            "packet too large",
	ErrCodeUnexpectedBinary:    "unexpected binary frame",
	ErrCodeBadPlaceholder:      "bad placeholder",
	ErrCodeUnexpectedText:      "unexpected text frame",
	ErrCodeUnsupported:         "unsupported value",
	ErrCodeMarshaler:           "marshaler failed",
}

func (c ErrorCode) String() string {
	if int(c) < len(errorCodeText) && errorCodeText[c] != "" {
		return errorCodeText[c]
	}
	return "ErrorCode(" + strconv.Itoa(int(c)) + ")"
}

// Error is the one error type of the package; use errors.As to inspect it.
//
// Offset is the byte offset in the frame (or in the JSON being scanned) where
// the problem was found, or -1 when there is no meaningful position (encoding
// errors). Limit is the limit crossed, for the limit codes; 0 otherwise. Err
// is the underlying cause, if any (for example the error a MarshalJSON method
// returned).
type Error struct {
	Code   ErrorCode
	Offset int
	Limit  int
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	s := "sio: " + e.Code.String()
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Offset >= 0 {
		s += " at offset " + strconv.Itoa(e.Offset)
	}
	if e.Limit > 0 {
		s += " (limit " + strconv.Itoa(e.Limit) + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

func newError(code ErrorCode, off int, msg string) *Error {
	return &Error{Code: code, Offset: off, Msg: msg}
}

func limitError(code ErrorCode, off, limit int, msg string) *Error {
	return &Error{Code: code, Offset: off, Limit: limit, Msg: msg}
}
