package sio

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// Default limits, used for every field of [Limits] left at zero (or set
// negative).
const (
	DefaultMaxAttachments     = 10
	DefaultMaxAttachmentBytes = 1_000_000
	DefaultMaxDepth           = 32
	DefaultMaxPacketBytes     = 1_000_000
)

// Limits bounds everything a peer controls in what the [Decoder] holds. A
// field at zero (or negative) takes its default.
type Limits struct {
	// MaxAttachments is the largest attachment count a binary packet may
	// announce. Default DefaultMaxAttachments.
	MaxAttachments int
	// MaxAttachmentBytes is the largest total size of the attachments of one
	// packet, that is the bytes held while the packet is awaiting them.
	// Default DefaultMaxAttachmentBytes.
	MaxAttachmentBytes int
	// MaxDepth is the deepest JSON nesting of a payload; the top-level array
	// of an event is depth 1. Default DefaultMaxDepth.
	MaxDepth int
	// MaxPacketBytes is the largest text frame. Default DefaultMaxPacketBytes.
	MaxPacketBytes int
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func (l Limits) withDefaults() Limits {
	return Limits{
		MaxAttachments:     orDefault(l.MaxAttachments, DefaultMaxAttachments),
		MaxAttachmentBytes: orDefault(l.MaxAttachmentBytes, DefaultMaxAttachmentBytes),
		MaxDepth:           orDefault(l.MaxDepth, DefaultMaxDepth),
		MaxPacketBytes:     orDefault(l.MaxPacketBytes, DefaultMaxPacketBytes),
	}
}

// Decoder turns the frames of one connection into packets. It is a state
// machine: feed it every frame in order, text frames to DecodeText and
// binary frames to DecodeBinary. A binary packet is returned once its last
// attachment has arrived.
//
// The zero value is ready to use with the default limits. A Decoder is not
// safe for concurrent use.
//
// Ownership: the decoder keeps the frames it is given. A returned packet's
// Data is a sub-slice of its text frame and its Attachments are the binary
// frames themselves, so the caller hands each frame over and must not modify
// or reuse it afterwards.
//
// Placeholders: each must index an attachment of its packet, and each
// attachment may be referenced by one placeholder at most, as every
// Socket.IO encoder writes them (the same buffer sent twice travels twice).
// This bounds what [Raw.Bind] expands to the size of the attachments.
//
// Errors: every error is an *[Error]. After an error the decoder is back in
// its idle state (any packet awaiting attachments is dropped), so the caller
// may go on or, more usually, close the connection.
type Decoder struct {
	limits  *Limits // nil: the defaults
	pending *Packet
	want    int // attachments awaited by pending
	held    int // attachment bytes held for pending
	lastNS  string
}

// NewDecoder returns a decoder with the given limits.
func NewDecoder(l Limits) *Decoder { return &Decoder{limits: &l} }

// NewSharedDecoder returns a decoder that reads its limits from *l, which
// many decoders may share (a server's connections) and which must not
// change.
func NewSharedDecoder(l *Limits) *Decoder { return &Decoder{limits: l} }

// lim is the decoder's limits, defaults applied.
func (d *Decoder) lim() Limits {
	if d.limits == nil {
		return Limits{}.withDefaults()
	}
	return d.limits.withDefaults()
}

// Pending reports whether the decoder is awaiting attachments.
func (d *Decoder) Pending() bool { return d.pending != nil }

// Reset drops any packet awaiting attachments.
func (d *Decoder) Reset() {
	d.pending = nil
	d.want = 0
	d.held = 0
}

// reserved event names, which a peer may not emit.
var reservedEvents = [...]string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// DecodeText decodes a text frame. It returns the packet, or (nil, nil) when
// the packet is binary and now awaits its attachments.
func (d *Decoder) DecodeText(frame []byte) (*Packet, error) {
	if d.pending != nil {
		d.Reset()
		return nil, newError(ErrCodeUnexpectedText, 0, "text frame while awaiting attachments")
	}
	lim := d.lim()
	if len(frame) > lim.MaxPacketBytes {
		return nil, limitError(ErrCodeTooLarge, lim.MaxPacketBytes, lim.MaxPacketBytes, "text frame of "+strconv.Itoa(len(frame))+" bytes")
	}
	if len(frame) == 0 {
		return nil, newError(ErrCodeSyntax, 0, "empty frame")
	}
	if c := frame[0]; c < '0' || c > '6' {
		return nil, newError(ErrCodeUnknownType, 0, "type "+strconv.QuoteRune(rune(c)))
	}
	typ := PacketType(frame[0] - '0')
	i := 1

	natt := 0
	if typ.isBinary() {
		start := i
		for i < len(frame) && isDigit(frame[i]) {
			if n := natt*10 + int(frame[i]-'0'); n <= lim.MaxAttachments {
				natt = n
			} else {
				return nil, limitError(ErrCodeTooManyAttachments, start, lim.MaxAttachments, "attachment count "+string(digitsAt(frame, start)))
			}
			i++
		}
		if i == start || i >= len(frame) || frame[i] != '-' {
			return nil, newError(ErrCodeSyntax, i, "binary packet without \"<count>-\"")
		}
		i++
	}

	ns := "/"
	if i < len(frame) && frame[i] == '/' {
		start := i
		var raw []byte
		if j := bytes.IndexByte(frame[i:], ','); j >= 0 {
			raw = frame[i : i+j]
			i += j + 1
		} else {
			raw = frame[i:]
			i = len(frame)
		}
		if off := badNamespaceAt(raw); off >= 0 {
			return nil, newError(ErrCodeBadNamespace, start+off, "control character or invalid UTF-8 in namespace")
		}
		if string(raw) != d.lastNS {
			d.lastNS = string(raw)
		}
		ns = d.lastNS
	}

	var id int64
	hasID := false
	if i < len(frame) && isDigit(frame[i]) {
		start := i
		for i < len(frame) && isDigit(frame[i]) {
			if i-start >= 16 {
				return nil, newError(ErrCodeBadAckID, start, "ack id longer than 16 digits")
			}
			id = id*10 + int64(frame[i]-'0')
			i++
		}
		if id > MaxAckID {
			return nil, newError(ErrCodeBadAckID, start, "ack id over 2^53-1")
		}
		hasID = true
	}

	var data []byte
	if i < len(frame) {
		data = frame[i:]
	}
	if err := checkPayload(typ, data, i, natt, lim.MaxDepth); err != nil {
		return nil, err
	}
	p := &Packet{Type: typ, Namespace: ns, ID: id, HasID: hasID, Data: data}
	if natt > 0 {
		p.Attachments = make([][]byte, 0, natt)
		d.pending, d.want, d.held = p, natt, 0
		return nil, nil
	}
	return p, nil
}

func digitsAt(b []byte, i int) []byte {
	j := i
	for j < len(b) && isDigit(b[j]) && j-i < 20 {
		j++
	}
	return b[i:j]
}

// badNamespaceAt returns the offset of the first control character or
// invalid UTF-8 sequence in ns, or -1.
func badNamespaceAt(ns []byte) int {
	for i := 0; i < len(ns); {
		c := ns[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(ns[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// checkPayload checks that data (at offset off in the frame) is a payload
// the packet type allows, with every placeholder below natt.
func checkPayload(typ PacketType, data []byte, off, natt, maxDepth int) error {
	if data == nil {
		switch typ {
		case Connect, Disconnect:
			return nil
		}
		return newError(ErrCodeBadPayload, off, typ.String()+" packet without payload")
	}
	if typ == Disconnect {
		return newError(ErrCodeBadPayload, off, "DISCONNECT packet with a payload")
	}
	s := scanner{buf: data, base: off, maxDepth: maxDepth, natt: natt, unique: true}
	kind, err := s.top()
	if err != nil {
		return err
	}
	switch typ {
	case Connect:
		if kind != kindObject {
			return newError(ErrCodeBadPayload, off, "CONNECT payload must be an object")
		}
	case ConnectError:
		if kind != kindObject && kind != kindString {
			return newError(ErrCodeBadPayload, off, "CONNECT_ERROR payload must be an object or a string")
		}
	case Ack, BinaryAck:
		if kind != kindArray {
			return newError(ErrCodeBadPayload, off, typ.String()+" payload must be an array")
		}
	case Event, BinaryEvent:
		if kind != kindArray || s.nelems == 0 {
			return newError(ErrCodeBadPayload, off, typ.String()+" payload must be a non-empty array")
		}
		switch s.firstKind {
		case kindNumber:
		case kindString:
			raw := data[s.first.start:s.first.end]
			if len(raw) > 2+6*len("removeListener") {
				break // longer than any spelling of a reserved name
			}
			var tmp [96]byte
			name := appendUnquoted(tmp[:0], raw)
			for _, r := range reservedEvents {
				if string(name) == r {
					return newError(ErrCodeBadPayload, off+s.first.start, "reserved event name "+strconv.Quote(r))
				}
			}
		default:
			return newError(ErrCodeBadPayload, off+s.first.start, "event name must be a string or a number")
		}
	}
	return nil
}

// DecodeBinary takes the next attachment of the packet awaiting them. It
// returns the packet once its last attachment has arrived, else (nil, nil).
func (d *Decoder) DecodeBinary(frame []byte) (*Packet, error) {
	if d.pending == nil {
		return nil, newError(ErrCodeUnexpectedBinary, 0, "binary frame while no attachment is awaited")
	}
	lim := d.lim()
	if len(frame) > lim.MaxAttachmentBytes-d.held {
		off := lim.MaxAttachmentBytes - d.held
		d.Reset()
		return nil, limitError(ErrCodeAttachmentsTooLarge, off, lim.MaxAttachmentBytes, "attachments over the byte limit")
	}
	p := d.pending
	d.held += len(frame)
	p.Attachments = append(p.Attachments, frame)
	if len(p.Attachments) < d.want {
		return nil, nil
	}
	d.Reset()
	return p, nil
}
