package core

import (
	"errors"
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// Forwarding: a server may have namespaces served by other processes (the
// gateway of package cluster/distributor). The client's connection stays
// here, with its session, heartbeat and upgrade; the Socket.IO packets of a
// forwarded namespace go to a Route instead of to a local socket, and what
// the serving process answers comes back whole, as Engine.IO frames, to be
// queued on the session as they are (Conn.Forwarded). Core only keeps which
// namespaces of a connection are forwarded, in the order of its input.

// Forwarder decides which namespaces are served elsewhere. Install one with
// Server.SetForwarder.
type Forwarder interface {
	// Open is called on the connection's input goroutine when its client
	// connects to a namespace that has no socket here, with the CONNECT
	// packet (its Data is the auth payload). It returns the route that
	// takes the namespace's packets from now on, nil to serve the
	// namespace here as usual, or an error to refuse the connect: the
	// message and data of a *ConnectError reach the client's connect_error
	// handler, the text of any other error as the message. It must not
	// block.
	Open(c *Conn, p *sio.Packet) (Route, error)
}

// Route takes the packets of one forwarded namespace of one connection.
// Its methods run on the connection's input goroutine, one at a time, and
// must not block; a packet is valid only during the call.
type Route interface {
	// Packet hands over a packet from the client: the CONNECT first, then
	// its events and acknowledgements (binary ones with their
	// attachments), and a DISCONNECT when the client leaves the namespace,
	// after which the route is forgotten.
	Packet(p *sio.Packet)
	// Close reports that the client's session ended, with its reason
	// ("transport close", "ping timeout", ...), while the route was open.
	Close(reason string)
}

type forwarderBox struct{ f Forwarder }

// SetForwarder installs f (nil removes it): from then on, the connects of
// every connection to namespaces without a local socket are offered to f.
// Routes already open stay open.
func (s *Server) SetForwarder(f Forwarder) {
	if f == nil {
		s.fwd.Store(nil)
		return
	}
	s.fwd.Store(&forwarderBox{f: f})
}

// ErrRouteClosed is returned by Conn.Forwarded when the route is no
// longer open: the client left the namespace, or its session ended.
var ErrRouteClosed = errors.New("sio: forwarded namespace closed")

// forward hands p to the route of its namespace, or opens one when p is a
// CONNECT that the Forwarder takes. It reports whether p was handled; the
// caller holds the connection's input.
func (c *Conn) forward(now time.Time, p *sio.Packet) bool {
	c.mu.Lock()
	rt := c.routes[p.Namespace]
	if rt != nil && p.Type == sio.Disconnect {
		delete(c.routes, p.Namespace)
	}
	c.mu.Unlock()
	if rt != nil {
		switch p.Type {
		case sio.Disconnect, sio.Event, sio.BinaryEvent, sio.Ack, sio.BinaryAck:
			rt.Packet(p)
		default:
			// A second CONNECT, or a packet only servers send: closed
			// as for a local socket.
			c.srv.log.Debug("sio: packet out of state", "sid", c.sid, "type", p.Type, "nsp", p.Namespace)
			c.closeSession(eio.ReasonForcedClose, nil)
		}
		return true
	}
	if p.Type != sio.Connect {
		return false
	}
	box := c.srv.fwd.Load()
	if box == nil {
		return false
	}
	c.mu.Lock()
	full := c.socketCountLocked()+len(c.routes) >= c.srv.cfg.MaxNamespacesPerConn
	c.mu.Unlock()
	if full {
		c.connectError(p.Namespace, "Too many namespaces", nil)
		return true
	}
	rt, err := box.f.Open(c, p)
	if err != nil {
		var ce *ConnectError
		if errors.As(err, &ce) {
			c.connectError(p.Namespace, ce.Message, ce.Data)
		} else {
			c.connectError(p.Namespace, err.Error(), nil)
		}
		return true
	}
	if rt == nil {
		return false
	}
	c.mu.Lock()
	if c.routes == nil {
		c.routes = make(map[string]Route)
	}
	c.routes[p.Namespace] = rt
	c.mu.Unlock()
	rt.Packet(p)
	return true
}

// Forwarded queues on the session the frames of one Socket.IO packet that
// the process serving the forwarded namespace nsp sent through route rt:
// a CONNECT answer, a connect_error, events, acknowledgements, a
// DISCONNECT. The frames are sent as they are. A connect_error or a
// DISCONNECT ends the route. It returns ErrRouteClosed, sending nothing,
// when rt is not the namespace's open route (frames of an earlier socket
// still on their way). Safe from any goroutine.
func (c *Conn) Forwarded(nsp string, rt Route, frames []eio.Packet, volatile bool) error {
	if len(frames) == 0 {
		return nil
	}
	c.mu.Lock()
	if c.routes[nsp] != rt || c.ended {
		c.mu.Unlock()
		return ErrRouteClosed
	}
	if d := frames[0].Data; !frames[0].Binary && len(d) > 0 {
		switch sio.PacketType(d[0] - '0') {
		case sio.Connect:
			c.connecting = false // joined a namespace: no connect timeout
		case sio.ConnectError, sio.Disconnect:
			delete(c.routes, nsp)
		}
	}
	c.mu.Unlock()
	return c.Send(volatile, frames...)
}

// closeRoutes tells the open routes that the session ended.
func (c *Conn) closeRoutes(reason string) {
	c.mu.Lock()
	routes := c.routes
	c.routes = nil
	c.mu.Unlock()
	for _, rt := range routes {
		rt.Close(reason)
	}
}
