package core

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/sio-go/sio/core/eio"
)

// The debug trace: with a logger at debug level (httpadapter's SIO_DEBUG=1
// or DEBUG=sio*), every Engine.IO packet in and out of a session is logged
// with the session id, the transport, the Socket.IO namespace of a message,
// and the packet's first bytes. It costs one branch per packet when off.

// traceBytes bounds the bytes of a packet a trace line shows.
const traceBytes = 256

// SetTrace makes c log every packet at debug level to l; a nil l, or one
// not enabled at debug level, turns the trace off.
func (c *EngineConn) SetTrace(l *slog.Logger) {
	if l != nil && !l.Enabled(context.Background(), slog.LevelDebug) {
		l = nil
	}
	c.tracer = l
}

func (c *EngineConn) traceFrame(dir string, frame []byte, binary bool) {
	if binary {
		c.tracer.Debug("sio: packet", "sid", c.sid, "dir", dir, "binary", len(frame))
		return
	}
	c.traceText(dir, frame)
}

// tracePayload logs each packet of a polling body.
func (c *EngineConn) tracePayload(body []byte) {
	for len(body) > 0 {
		p, rest, _ := bytes.Cut(body, []byte{0x1e})
		if len(p) > 0 && p[0] == 'b' {
			c.tracer.Debug("sio: packet", "sid", c.sid, "dir", "in", "transport", "polling", "binary", len(p)-1)
		} else {
			c.traceText("in", p)
		}
		body = rest
	}
}

func (c *EngineConn) tracePackets(dir string, pkts []eio.Packet) {
	for _, p := range pkts {
		if p.Binary {
			c.tracer.Debug("sio: packet", "sid", c.sid, "dir", dir, "type", p.Type.String(), "binary", len(p.Data))
			continue
		}
		var one [1]eio.Packet
		one[0] = p
		b, _ := eio.AppendFrame(nil, one[0])
		c.traceText(dir, b)
	}
}

// traceText logs an Engine.IO text packet; a message ('4') also names its
// Socket.IO namespace.
func (c *EngineConn) traceText(dir string, b []byte) {
	nsp := ""
	if len(b) > 1 && b[0] == '4' {
		nsp = namespaceOf(b[1:])
	}
	shown := b
	if len(shown) > traceBytes {
		shown = shown[:traceBytes]
	}
	if nsp != "" {
		c.tracer.Debug("sio: packet", "sid", c.sid, "dir", dir, "nsp", nsp, "data", string(shown), "len", len(b))
		return
	}
	c.tracer.Debug("sio: packet", "sid", c.sid, "dir", dir, "data", string(shown), "len", len(b))
}

// namespaceOf reads the namespace of a Socket.IO packet's text: after the
// type and an attachment count, "/name," or "/" when absent.
func namespaceOf(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	i := 1
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i < len(b) && b[i] == '-' {
		i++
	} else {
		i = 1
	}
	if i >= len(b) || b[i] != '/' {
		return "/"
	}
	if j := bytes.IndexByte(b[i:], ','); j >= 0 {
		return string(b[i : i+j])
	}
	return string(b[i:])
}
