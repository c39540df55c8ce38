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
		return Packet{}, err
	}
	b.buf, b.atts = buf, atts
	p := Packet{Type: typ, Namespace: nsp, Data: append([]byte(nil), buf...)}
	if len(atts) > 0 {
		p.Type = BinaryEvent
		if typ == Ack {
			p.Type = BinaryAck
		}
		p.Attachments = append([][]byte(nil), atts...)
	}
	return p, nil
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
