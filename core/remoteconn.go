package core

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// A remote connection is a Conn whose client another node holds (a
// gateway, package cluster/distributor): it has no Engine.IO session. Its
// Socket.IO packets come decoded from that node (HandlePacket), and the
// frames its sockets send go back there through a RemoteLink, which queues
// them on the client's session as they are. Everything above the session
// is the Conn of a local client: namespaces, middlewares, sockets and their
// turns, rooms, acknowledgements and their timeouts. So a namespace served
// this way runs the handlers written for a local one, unchanged.
//
// What differs is the session's life, which the holding node owns: a
// remote connection has no connect timeout and no heartbeat; it ends when
// that node says the client's session ended (HandleClose), or when this
// side closes it (Socket.Disconnect(true), a bad packet, Server.Close),
// which asks the holding node to close the client's session
// (RemoteLink.Close).

// RemoteLink carries the output of a remote connection to the node that
// holds its client. Its methods are called on core's and the
// application's goroutines, possibly under core's locks: they must not
// block nor call back into the connection.
type RemoteLink interface {
	// Send queues the frames of one Socket.IO packet (its text frame, then
	// its attachments) for the client, in order with the frames sent
	// before. The frames may be shared with other recipients: never
	// modify them. A non-nil error fails an emit as the session's Send
	// would (a volatile packet may be dropped on a full queue).
	Send(frames []eio.Packet, volatile bool) error
	// Close asks the holding node to close the client's session for r.
	Close(r eio.Reason)
	// Empty reports that the connection's last socket has gone (refused,
	// or disconnected); the connection may then be dropped with
	// HandleClose once RemoteConn.Empty confirms it.
	Empty()
}

// remoteLink is the state of a remote connection (Conn.remote).
type remoteLink struct {
	link      RemoteLink
	transport eio.Transport
	inMu      sync.Mutex    // serialises inputs, as EngineConn's
	pending   atomic.Uint32 // a Close waiting for the input to end: its reason
	handover  string        // under inMu: the id for the socket a HandleHandover starts
	sendMu    sync.Mutex    // orders sends with the step of sendThen, as EngineConn.mu does
	closed    atomic.Bool
}

// RemoteConn is the input side of a remote connection; Conn is the
// connection itself, as its sockets report it.
type RemoteConn struct{ c *Conn }

// ErrNoGo is returned by NewRemoteConn on a server without Config.Go: a
// remote connection's handlers must not run on the goroutine that delivers
// its packets.
var ErrNoGo = errors.New("sio: remote connections need Config.Go")

// NewRemoteConn starts a connection whose client another node holds: sid
// is the client's Engine.IO session id there, t its transport, hs its
// handshake. wake is called, never blocking, when a timer of the
// connection moved (an acknowledgement with a timeout was asked for): the
// caller then asks Deadline and calls HandleTimeout when due.
func (s *Server) NewRemoteConn(sid string, t eio.Transport, hs Handshake, link RemoteLink, wake func()) (*RemoteConn, error) {
	if s.cfg.Go == nil {
		return nil, ErrNoGo
	}
	if wake == nil {
		wake = func() {}
	}
	c := &Conn{
		srv:    s,
		hs:     hs,
		dec:    *sio.NewSharedDecoder(&s.cfg.Limits),
		remote: &remoteLink{link: link, transport: t},
	}
	if c.hs.Context == nil {
		c.hs.Context = context.Background()
	}
	// An EngineConn without a session: it keeps the id, the wake function
	// and the closed flag, which is all a remote connection asks of it.
	c.EngineConn.sid, c.EngineConn.wake, c.EngineConn.h = sid, wake, (*connEvents)(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, ErrServerClosed
	}
	s.conns[sid] = c
	return &RemoteConn{c: c}, nil
}

// Conn is the connection.
func (r *RemoteConn) Conn() *Conn { return r.c }

// HandlePacket delivers one Socket.IO packet from the client, as the
// client's node decoded it: CONNECT (with the auth payload as Data),
// EVENT, ACK and their binary forms, DISCONNECT. A packet out of state or
// with bad arguments closes the connection, as on a local connection.
func (r *RemoteConn) HandlePacket(now time.Time, p *sio.Packet) {
	c := r.c
	c.remote.inMu.Lock()
	defer c.unlockInput()
	if c.remote.closed.Load() {
		return
	}
	c.handlePacket(now, p)
}

// HandleHandover delivers the CONNECT of a socket handed over from
// another node: the one that served it is gone, and the client, still
// connected, keeps its socket. It is HandlePacket for a CONNECT (p.Data is
// the auth payload of the client's original connect), except that the
// socket takes the id it had, id, and reports Socket.HandedOver. Its
// middlewares and connection handlers run again, as for any connect (a
// handler re-joins its rooms there); the CONNECT answer or connect_error
// goes to the client's node as usual, which decides what the client sees.
// id must be unique in the namespace, as the ids the server makes are.
func (r *RemoteConn) HandleHandover(now time.Time, p *sio.Packet, id string) {
	c := r.c
	c.remote.inMu.Lock()
	defer c.unlockInput()
	if c.remote.closed.Load() || p.Type != sio.Connect || id == "" {
		return
	}
	c.remote.handover = id
	c.handlePacket(now, p)
	c.remote.handover = ""
}

// takeHandover gives s, a socket being made for a CONNECT, the id of the
// socket handed over when that CONNECT came through HandleHandover. The
// caller holds the input.
func (c *Conn) takeHandover(s *Socket) {
	if c.remote == nil || c.remote.handover == "" {
		return
	}
	s.id = c.remote.handover
	s.rareLocked().handedOver = true // s is not shared yet: no lock needed
	c.remote.handover = ""
}

// HandedOver reports whether the socket was handed over from another node
// of its service that is gone (package cluster/distributor: a backend
// replica that died): the client did not reconnect, it kept its socket id,
// and this node ran the namespace's middlewares and connection handlers
// for it again. Its rooms and per-socket state on the node that died are
// lost: a connection handler restores what the application needs (joins
// its rooms again), as on any connect. False for every other socket.
func (s *Socket) HandedOver() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rare != nil && s.rare.handedOver
}

// HandleClose ends the connection for reason r without asking the
// client's node to close anything: that node reported the client's
// session ended, or the connection is Empty and dropped.
func (r *RemoteConn) HandleClose(reason eio.Reason) {
	c := r.c
	c.remote.inMu.Lock()
	defer c.unlockInput()
	c.closeRemote(reason, false)
}

// Empty reports whether the connection has no socket (none connected, none
// connecting).
func (r *RemoteConn) Empty() bool {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.socketCountLocked() == 0
}

// HandleTimeout fires the connection's timers due at now (the timeouts of
// acknowledgements its sockets asked for).
func (r *RemoteConn) HandleTimeout(now time.Time) {
	c := r.c
	c.remote.inMu.Lock()
	defer c.unlockInput()
	if c.remote.closed.Load() {
		return
	}
	(*connEvents)(c).OnTimeout(now)
}

// Deadline is when HandleTimeout is next due.
func (r *RemoteConn) Deadline() (time.Time, bool) { return (*connEvents)(r.c).Deadline() }

// DeadlineMoved reports, once, that a timer was set since the last call:
// the caller must ask Deadline again.
func (r *RemoteConn) DeadlineMoved() bool { return r.c.DeadlineMoved() }

// Closed reports whether the connection has ended.
func (r *RemoteConn) Closed() bool { return r.c.remote.closed.Load() }

// closeRemote ends a remote connection once: with tell, it asks the
// client's node to close the client's session. The caller holds inMu.
func (c *Conn) closeRemote(r eio.Reason, tell bool) {
	if !c.remote.closed.CompareAndSwap(false, true) {
		return
	}
	c.EngineConn.ended.Store(true)
	if tell {
		c.remote.link.Close(r)
	}
	c.onClose(r)
}

// Close closes the connection for reason r: the Engine.IO session of a
// local client (EngineConn.Close), or for a remote connection, the
// client's session on the node holding it and the connection here. On a
// remote connection whose input is being handled (a handler run at once by
// Config.Go calling Disconnect(true), or another goroutine's input), the
// close happens when that input ends, as EngineConn.Close leaves it to the
// next input.
func (c *Conn) Close(r eio.Reason) {
	if c.remote == nil {
		c.EngineConn.Close(r)
		return
	}
	if r == eio.ReasonNone {
		r = eio.ReasonForcedClose
	}
	c.remote.pending.CompareAndSwap(0, uint32(r))
	if c.remote.inMu.TryLock() {
		c.unlockInput()
	}
}

// unlockInput ends an input of a remote connection: it runs a Close that
// came meanwhile, then releases inMu, and takes it again for a Close that
// came after it looked.
func (c *Conn) unlockInput() {
	l := c.remote
	for {
		if r := l.pending.Swap(0); r != 0 {
			c.closeRemote(eio.Reason(r), true)
		}
		l.inMu.Unlock()
		if l.pending.Load() == 0 || !l.inMu.TryLock() {
			return
		}
	}
}

// Transport is the transport in use; for a remote connection, the one the
// client used on its node when its first namespace connected.
func (c *Conn) Transport() eio.Transport {
	if c.remote != nil {
		return c.remote.transport
	}
	return c.EngineConn.Transport()
}

// Remote reports whether the connection's client is held by another node.
func (c *Conn) Remote() bool { return c.remote != nil }

// send passes frames to the link even once the connection has ended: the
// sockets stop emitting when they disconnect, and what is sent after is
// the last word of one of them (the connect_error of a socket refused
// while its emptied connection was being dropped), which the link may
// still deliver.
func (l *remoteLink) send(c *Conn, frames []eio.Packet, volatile bool) error {
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	return l.link.Send(frames, volatile)
}

// sendThen is EngineConn.sendThen for both kinds of connection: pkts are
// queued (never volatile) and then runs under the lock that orders the
// connection's sends, so a send that follows sees what then did.
func (c *Conn) sendThen(then func(), pkts ...eio.Packet) error {
	l := c.remote
	if l == nil {
		return c.EngineConn.sendThen(then, pkts...)
	}
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	err := l.link.Send(pkts, false)
	then()
	return err
}

// socketGone tells the link when a remote connection has no socket left;
// c.mu is held.
func (c *Conn) socketGoneLocked() {
	if c.remote != nil && c.socketCountLocked() == 0 {
		c.remote.link.Empty()
	}
}
