package client

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

// encodePacket builds the packet of an event (name first) or an ack (name
// empty) for namespace nsp, without its ack id. The packet owns its Data;
// its attachments alias the caller's []byte values, which must not change
// afterwards. It runs user marshalers, so it is called without locks.
func encodePacket(typ sio.PacketType, nsp, name string, args []any) (sio.Packet, error) {
	e := encoders.Get().(*encoder)
	defer func() {
		clear(e.atts)
		clear(e.args)
		e.args = e.args[:0]
		if cap(e.buf) > 64<<10 {
			e.buf = nil
		}
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
	p := sio.Packet{Type: typ, Namespace: nsp, Data: append([]byte(nil), buf...)}
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

// frames returns the Engine.IO messages carrying p: its text frame, then
// its attachments.
func frames(p *sio.Packet) []eio.Packet {
	buf := make([]byte, 0, len(p.Data)+len(p.Namespace)+24)
	text := eio.Packet{Type: eio.Message, Data: sio.AppendPacket(buf, p)}
	if len(p.Attachments) == 0 {
		return []eio.Packet{text}
	}
	out := make([]eio.Packet, 0, 1+len(p.Attachments))
	out = append(out, text)
	for _, a := range p.Attachments {
		out = append(out, eio.Packet{Type: eio.Message, Binary: true, Data: a})
	}
	return out
}
