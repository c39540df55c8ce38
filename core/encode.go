package core

import (
	"slices"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// sendPacket queues p on c: its text frame, then its attachments.
func (c *Conn) sendPacket(p *sio.Packet, volatile bool) error {
	var one [1]eio.Packet // the common case, one frame, on the stack
	return c.sendFrames(sio.AppendFrames(one[:0], p), volatile)
}

// sendFrames queues frames on c, which may be on the caller's stack: to
// the node holding the client, a copy goes.
func (c *Conn) sendFrames(frames []eio.Packet, volatile bool) error {
	if c.remote == nil {
		return c.Send(volatile, frames...)
	}
	return c.send(slices.Clone(frames), volatile)
}
