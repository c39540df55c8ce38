package core

import (
	"sync"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

type encoder struct {
	enc  sio.Encoder
	buf  []byte
	atts [][]byte
	args []any
}

var encoders = sync.Pool{New: func() any { return new(encoder) }}

// encodePacket builds the Socket.IO packet of an event (name first) or an
// ack (name empty) for namespace nsp. The packet owns its Data; attachments
// alias the caller's []byte values, which must not change afterwards.
func encodePacket(typ sio.PacketType, nsp string, id int64, hasID bool, name string, args []any) (sio.Packet, error) {
	e := encoders.Get().(*encoder)
	defer func() {
		clear(e.atts)
		clear(e.args)
		e.args = e.args[:0]
		encoders.Put(e)
	}()
	vals := args
	if typ == sio.Event {
		e.args = append(append(e.args[:0], name), args...)
		vals = e.args
	}
	buf, atts, err := e.enc.AppendArgs(e.buf[:0], e.atts[:0], vals...)
	if err != nil {
		return sio.Packet{}, err
	}
	e.buf, e.atts = buf, atts
	p := sio.Packet{Type: typ, Namespace: nsp, ID: id, HasID: hasID, Data: append([]byte(nil), buf...)}
	if len(atts) > 0 {
		if typ == sio.Event {
			p.Type = sio.BinaryEvent
		} else {
			p.Type = sio.BinaryAck
		}
		p.Attachments = append([][]byte(nil), atts...)
	}
	return p, nil
}

// textFrame is the Engine.IO message carrying the text of p.
func textFrame(p *sio.Packet) eio.Packet {
	buf := make([]byte, 0, len(p.Data)+len(p.Namespace)+24)
	return eio.Packet{Type: eio.Message, Data: sio.AppendPacket(buf, p)}
}

// sendPacket queues p on c: its text frame, then its attachments.
func (c *Conn) sendPacket(p *sio.Packet, volatile bool) error {
	if len(p.Attachments) == 0 {
		one := [1]eio.Packet{textFrame(p)}
		return c.send(one[:], volatile)
	}
	frames := make([]eio.Packet, 0, 1+len(p.Attachments))
	frames = append(frames, textFrame(p))
	for _, a := range p.Attachments {
		frames = append(frames, eio.Packet{Type: eio.Message, Binary: true, Data: a})
	}
	return c.send(frames, volatile)
}
