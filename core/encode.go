package core

import (
	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// sendPacket queues p on c: its text frame, then its attachments.
func (c *Conn) sendPacket(p *sio.Packet, volatile bool) error {
	var one [1]eio.Packet
	return c.send(sio.AppendFrames(one[:0], p), volatile)
}
