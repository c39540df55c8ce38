package sio

import (
	"sync"

	"github.com/sio-go/sio/core/eio"
)

type packetBuilder struct {
	enc  Encoder
	buf  []byte
	atts [][]byte
	args []any
}

var packetBuilders = sync.Pool{New: func() any { return new(packetBuilder) }}

// NewEvent builds the packet of event name with args for namespace nsp: an
// Event, or a BinaryEvent when []byte values became attachments. Set ID and
// HasID to ask for an acknowledgement. The packet owns its Data; its
// attachments are the caller's []byte values, which must not change
// afterwards.
func NewEvent(nsp, name string, args []any) (Packet, error) {
	return build(Event, nsp, name, args)
}

// NewAck builds the packet answering acknowledgement id with args: an Ack,
// or a BinaryAck when []byte values became attachments.
func NewAck(nsp string, id int64, args []any) (Packet, error) {
	p, err := build(Ack, nsp, "", args)
	p.ID, p.HasID = id, true
	return p, err
}

func build(typ PacketType, nsp, name string, args []any) (Packet, error) {
	var p Packet
	err := encode(typ, name, args, func(data []byte, atts [][]byte) {
		p = Packet{Type: binaryType(typ, len(atts)), Namespace: nsp, Data: append([]byte(nil), data...)}
		if len(atts) > 0 {
			p.Attachments = append([][]byte(nil), atts...)
		}
	})
	return p, err
}

// encode writes the arguments of an event (with its name) or an ack into
// a pooled buffer and hands it to fn with the attachments the []byte
// values became; neither outlives fn.
func encode(typ PacketType, name string, args []any, fn func(data []byte, atts [][]byte)) error {
	b := packetBuilders.Get().(*packetBuilder)
	defer func() {
		clear(b.atts)
		clear(b.args)
		b.args = b.args[:0]
		if cap(b.buf) > 64<<10 {
			b.buf = nil
		}
		packetBuilders.Put(b)
	}()
	vals := args
	if typ == Event {
		b.args = append(append(b.args[:0], name), args...)
		vals = b.args
	}
	buf, atts, err := b.enc.AppendArgs(b.buf[:0], b.atts[:0], vals...)
	if err != nil {
		return err
	}
	b.buf, b.atts = buf, atts
	fn(buf, atts)
	return nil
}

// binaryType is typ (Event or Ack), or its binary form with attachments.
func binaryType(typ PacketType, atts int) PacketType {
	switch {
	case atts == 0:
		return typ
	case typ == Ack:
		return BinaryAck
	}
	return BinaryEvent
}

// AppendEventFrames appends to dst the Engine.IO messages of the packet
// NewEvent builds, with ack id when hasID, as AppendFrames gives them:
// the text frame is built in one buffer of its own, without the packet's
// own copy of its data.
func AppendEventFrames(dst []eio.Packet, nsp, name string, id int64, hasID bool, args []any) ([]eio.Packet, error) {
	return appendFramesOf(dst, Event, nsp, name, id, hasID, args)
}

// AppendAckFrames appends to dst the Engine.IO messages of the packet
// NewAck builds, as AppendEventFrames does for an event.
func AppendAckFrames(dst []eio.Packet, nsp string, id int64, args []any) ([]eio.Packet, error) {
	return appendFramesOf(dst, Ack, nsp, "", id, true, args)
}

func appendFramesOf(dst []eio.Packet, typ PacketType, nsp, name string, id int64, hasID bool, args []any) ([]eio.Packet, error) {
	err := encode(typ, name, args, func(data []byte, atts [][]byte) {
		p := Packet{Type: binaryType(typ, len(atts)), Namespace: nsp, ID: id, HasID: hasID, Attachments: atts}
		frame := appendHeader(make([]byte, 0, len(data)+len(nsp)+24), &p)
		dst = append(dst, eio.Packet{Type: eio.Message, Data: append(frame, data...)})
		for _, a := range atts {
			dst = append(dst, eio.Packet{Type: eio.Message, Binary: true, Data: a})
		}
	})
	return dst, err
}

// AppendFrames appends the Engine.IO messages that carry p to dst: its text
// frame (in a buffer of its own), then one binary message per attachment.
func AppendFrames(dst []eio.Packet, p *Packet) []eio.Packet {
	buf := make([]byte, 0, len(p.Data)+len(p.Namespace)+24)
	dst = append(dst, eio.Packet{Type: eio.Message, Data: AppendPacket(buf, p)})
	for _, a := range p.Attachments {
		dst = append(dst, eio.Packet{Type: eio.Message, Binary: true, Data: a})
	}
	return dst
}
