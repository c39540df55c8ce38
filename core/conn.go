package core

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// ErrServerClosed is returned by NewConn once the server is closing.
var ErrServerClosed = errors.New("sio: server closed")

// Conn is one client connection: an Engine.IO session and the sockets it
// carries, one per namespace. Its Engine.IO methods (inputs, outputs,
// Deadline) are the embedded EngineConn's, held in the Conn rather than
// beside it: one allocation fewer per connection.
type Conn struct {
	EngineConn
	srv *Server
	hs  Handshake

	dec sio.Decoder // under EngineConn.inMu

	mu sync.Mutex // guards the sockets, connecting and the pause
	// The sockets by namespace: most connections join one, held in first
	// without a map; the sockets of other namespaces are in more, made
	// when needed. Their count is bounded by MaxNamespacesPerConn.
	first     *Socket
	more      map[string]*Socket
	paused    int32       // sockets whose inbox is full
	anyPaused atomic.Bool // paused > 0, read without the lock on every input
	// connecting: no namespace joined yet, and the session closes
	// Config.ConnectTimeout after it opened (connectBy).
	connecting bool
	ended      bool          // the session closed: reads never pause again
	resume     chan struct{} // closed when paused drops to 0 or the session ends

	// remote is set on a connection whose client is held by another node
	// (see NewRemoteConn, remoteconn.go): its output goes there instead of
	// to the EngineConn, which then has no session.
	remote *remoteLink
	// routes are the namespaces of this connection that a Forwarder serves
	// elsewhere (forward.go), under mu.
	routes map[string]Route

	runner func(fn func()) // set by the adapter before any input; see SetRunner
	wait   func()          // set by the adapter before any input; see SetWaiting
}

// SetWaiting gives the adapter word of a turn that is about to wait for
// its client (EmitWithAck): a transport that runs turns on its reader, and
// writes their output once they return, then writes and reads on at once
// rather than when it notices that the turn lasts. w may be called from
// any goroutine, and must not block. Call it before the first input.
func (c *Conn) SetWaiting(w func()) { c.wait = w }

// waiting tells the adapter that a turn is about to wait.
func (c *Conn) waiting() {
	if c.wait != nil {
		c.wait()
	}
}

// SetRunner has the adapter start the runners of this connection's sockets
// with r instead of Config.Go, so that the transport can run a turn on its
// reader when the turn comes from the input it just handed in, and hand
// reading to a new goroutine if the turn blocks (see package transport).
// r has Config.Go's contract: it must not block its caller, and fn must
// run on some goroutine. Call it before the first input.
func (c *Conn) SetRunner(r func(fn func())) { c.runner = r }

// run starts a socket's runner.
func (c *Conn) run(fn func()) {
	if c.runner != nil {
		c.runner(fn)
		return
	}
	c.srv.run(fn)
}

// ReadPaused returns nil when the adapter may read the next input, or a
// channel that is closed once it may: when the inboxes of the connection's
// sockets are full, reading waits for their handlers (backpressure down to
// TCP), while timers and writes go on.
func (c *Conn) ReadPaused() <-chan struct{} {
	if !c.anyPaused.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused == 0 || c.ended {
		return nil
	}
	if c.resume == nil {
		c.resume = make(chan struct{})
	}
	return c.resume
}

// pauseReads counts a socket whose inbox became full (+1) or has room
// again (-1).
func (c *Conn) pauseReads(delta int) {
	c.mu.Lock()
	c.paused += int32(delta)
	c.anyPaused.Store(c.paused > 0)
	if c.paused == 0 && c.resume != nil {
		close(c.resume)
		c.resume = nil
	}
	c.mu.Unlock()
}

// NewConn starts a connection on transport t for a client whose request is
// described by hs. wake is called, never blocking and possibly under core's
// locks, whenever output is queued or the state changed; the adapter then
// takes the output and calls HandleTimeout.
func (s *Server) NewConn(t eio.Transport, hs Handshake, now time.Time, wake func()) (*Conn, error) {
	sid := s.cfg.NewID()
	if hs.Context == nil {
		hs.Context = context.Background()
	}
	c := &Conn{
		srv:        s,
		hs:         hs,
		connecting: true,
		dec:        *sio.NewSharedDecoder(&s.cfg.Limits),
	}
	c.EngineConn.init(sid, &s.cfg.Engine, t, now, wake, (*connEvents)(c))
	c.EngineConn.SetTrace(s.log)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, ErrServerClosed
	}
	s.conns[sid] = c
	return c, nil
}

// connectBy is when a session that has joined no namespace closes:
// ConnectTimeout after it opened. Only a connection with a session is ever
// connecting.
func (c *Conn) connectBy() time.Time {
	return c.sess.Epoch().Add(c.srv.cfg.ConnectTimeout)
}

// Handshake is the request that opened the connection.
func (c *Conn) Handshake() *Handshake { return &c.hs }

// connEvents is the EngineHandler of a Conn.
type connEvents Conn

func (h *connEvents) OnMessage(now time.Time, p eio.Packet) { (*Conn)(h).handleMessage(now, p) }

func (h *connEvents) OnClose(r eio.Reason, _ error) { (*Conn)(h).onClose(r) }

func (h *connEvents) OnTimeout(now time.Time) {
	c := (*Conn)(h)
	c.mu.Lock()
	expired := c.connecting && !now.Before(c.connectBy())
	c.mu.Unlock()
	if expired {
		c.closeSession(eio.ReasonForcedClose, nil)
	}
	for _, s := range c.socketList() {
		s.expireAcks(now)
	}
}

func (h *connEvents) Deadline() (t time.Time, ok bool) {
	c := (*Conn)(h)
	c.mu.Lock()
	if c.connecting {
		t, ok = c.connectBy(), true
	}
	c.mu.Unlock()
	for _, s := range c.socketList() {
		if d, dok := s.ackDeadline(); dok && (!ok || d.Before(t)) {
			t, ok = d, true
		}
	}
	return t, ok
}

func (c *Conn) handleMessage(now time.Time, m eio.Packet) {
	var p *sio.Packet
	var err error
	if m.Binary {
		p, err = c.dec.DecodeBinary(m.Data)
	} else {
		p, err = c.dec.DecodeText(m.Data)
	}
	if err != nil {
		// The reference closes the connection with "forced close" when a
		// Socket.IO packet does not decode.
		c.srv.log.Debug("sio: bad packet", "sid", c.sid, "err", err)
		c.closeSession(eio.ReasonForcedClose, err)
		return
	}
	if p == nil {
		return
	}
	c.handlePacket(now, p)
}

// handlePacket handles one decoded Socket.IO packet from the client: from
// handleMessage, or for a remote connection from HandlePacket.
func (c *Conn) handlePacket(now time.Time, p *sio.Packet) {
	c.mu.Lock()
	sock := c.socketLocked(p.Namespace)
	c.mu.Unlock()
	// A namespace that a Forwarder serves elsewhere has no local socket:
	// its packets go to the Forwarder (forward.go).
	if sock == nil && c.forward(now, p) {
		return
	}
	switch {
	case p.Type == sio.Connect && sock == nil:
		c.connect(now, p)
	case sock != nil && p.Type == sio.Disconnect:
		sock.onclose("client namespace disconnect")
	case sock != nil && (p.Type == sio.Event || p.Type == sio.BinaryEvent || p.Type == sio.Ack || p.Type == sio.BinaryAck):
		if err := sock.handle(p); err != nil {
			c.srv.log.Debug("sio: bad arguments", "sid", c.sid, "err", err)
			c.closeSession(eio.ReasonForcedClose, err)
		}
	default:
		// A packet for a namespace this connection has not joined, a
		// second connect, or a packet only servers send: the reference
		// closes the connection.
		c.srv.log.Debug("sio: packet out of state", "sid", c.sid, "type", p.Type, "nsp", p.Namespace)
		c.closeSession(eio.ReasonForcedClose, nil)
	}
}

func (c *Conn) closeSession(r eio.Reason, err error) {
	if c.remote != nil { // no session here: the node holding the client closes it
		c.closeRemote(r, true)
		return
	}
	c.EngineConn.mu.Lock()
	c.sess.Close(r)
	c.EngineConn.unlock()
}

type connectAnswer struct {
	SID string `json:"sid"`
}

type connectErrorData struct {
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (c *Conn) connectError(nsp, msg string, data any) {
	b, err := json.Marshal(connectErrorData{Message: msg, Data: data})
	if err != nil {
		b, _ = json.Marshal(connectErrorData{Message: msg})
	}
	p := sio.Packet{Type: sio.ConnectError, Namespace: nsp, Data: b}
	_ = c.sendPacket(&p, false)
}

// connect starts a socket for a CONNECT packet. The socket is known to the
// connection at once (events that follow it wait in its inbox), and its
// middlewares, its CONNECT answer and its connection handlers run as its
// first turn, so that a middleware may block.
func (c *Conn) connect(now time.Time, p *sio.Packet) {
	c.mu.Lock()
	full := c.socketCountLocked()+len(c.routes) >= c.srv.cfg.MaxNamespacesPerConn
	c.mu.Unlock()
	if full {
		c.connectError(p.Namespace, "Too many namespaces", nil)
		return
	}
	// Sockets without an auth payload share the connection's handshake.
	hs := &c.hs
	if len(p.Data) > 0 {
		own := c.hs
		own.Auth = sio.Raw{JSON: p.Data}
		hs = &own
	}
	nsp := c.srv.lookup(p.Namespace, hs)
	if nsp == nil {
		c.connectError(p.Namespace, "Invalid namespace", nil)
		return
	}
	s := &Socket{id: c.srv.cfg.NewID(), nsp: nsp, conn: c, hs: hs}
	c.takeHandover(s) // a socket handed over keeps its id (remoteconn.go)
	s.drainFn = s.drain
	c.mu.Lock()
	c.addSocketLocked(s)
	c.mu.Unlock()
	s.enqueue(task{fn: func() { c.admit(s, p.Namespace) }})
}

// admit runs a new socket's middlewares and, when they let it in, answers
// the CONNECT before the socket joins its namespace and rooms (so that no
// broadcast reaches the client ahead of the answer), then runs the
// connection handlers.
func (c *Conn) admit(s *Socket, asked string) {
	nsp := s.nsp
	mws, onConn := nsp.handlers()
	for _, mw := range mws {
		if err := mw(s); err != nil {
			s.life.Lock()
			refused := s.state.CompareAndSwap(statePending, stateClosed)
			s.life.Unlock()
			if !refused {
				return // the connection closed meanwhile
			}
			c.removeSocket(s)
			nsp.adapter.DelAll(s.id) // rooms joined by the middlewares
			var ce *ConnectError
			if errors.As(err, &ce) {
				c.connectError(asked, ce.Message, ce.Data)
			} else {
				c.connectError(asked, err.Error(), nil)
			}
			return
		}
	}
	s.life.Lock()
	if c.Closed() || s.state.Load() != statePending {
		s.life.Unlock()
		return
	}
	// In its namespace and its room first, still pending, so that
	// broadcasts pass it by (MemoryAdapter.apply); then its answer is
	// queued and it is marked connected under the session's lock. So no
	// event reaches the client before its answer, and every broadcast
	// made once the client can have the answer reaches it, as in the
	// reference, where both happen in one step.
	nsp.add(s)
	nsp.adapter.AddAll(s.id, []string{s.id})
	b, _ := json.Marshal(connectAnswer{SID: s.id})
	ans := sio.Packet{Type: sio.Connect, Namespace: nsp.name, Data: b}
	var one [1]eio.Packet
	_ = c.sendThen(func() {
		s.accepted.Store(true)
		s.state.Store(stateConnected)
	}, sio.AppendFrames(one[:0], &ans)...)
	s.life.Unlock()
	c.mu.Lock()
	c.connecting = false
	c.mu.Unlock()
	for _, h := range onConn {
		h(s)
	}
}

func (c *Conn) onClose(r eio.Reason) {
	c.mu.Lock()
	c.ended = true
	if c.resume != nil {
		close(c.resume)
		c.resume = nil
	}
	c.mu.Unlock()
	reason := r.String()
	for _, s := range c.socketList() {
		s.onclose(reason)
	}
	c.closeRoutes(reason) // the forwarded namespaces (forward.go)
	c.dec.Reset()
	c.srv.removeConn(c)
}

// socketLocked is the socket of namespace nsp, or nil; c.mu is held.
func (c *Conn) socketLocked(nsp string) *Socket {
	if c.first != nil && c.first.nsp.name == nsp {
		return c.first
	}
	return c.more[nsp]
}

// socketCountLocked is the number of sockets; c.mu is held.
func (c *Conn) socketCountLocked() int {
	n := len(c.more)
	if c.first != nil {
		n++
	}
	return n
}

// addSocketLocked records s, whose namespace has no socket yet; c.mu is
// held.
func (c *Conn) addSocketLocked(s *Socket) {
	if c.first == nil {
		c.first = s
		return
	}
	if c.more == nil {
		c.more = make(map[string]*Socket)
	}
	c.more[s.nsp.name] = s
}

// socketList returns the sockets: none allocated for an idle connection's
// timer, which finds none or one.
func (c *Conn) socketList() []*Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.more) == 0 {
		if c.first == nil {
			return nil
		}
		return []*Socket{c.first}
	}
	out := make([]*Socket, 0, c.socketCountLocked())
	if c.first != nil {
		out = append(out, c.first)
	}
	for _, s := range c.more {
		out = append(out, s)
	}
	return out
}

func (c *Conn) removeSocket(s *Socket) {
	c.mu.Lock()
	switch {
	case c.first == s:
		c.first = nil
	case c.more[s.nsp.name] == s:
		delete(c.more, s.nsp.name)
		if len(c.more) == 0 {
			c.more = nil
		}
	default:
		c.mu.Unlock()
		return
	}
	c.socketGoneLocked() // a remote connection tells its link (remoteconn.go)
	c.mu.Unlock()
}

// disconnectAll disconnects every socket, then closes the connection.
func (c *Conn) disconnectAll() {
	for _, s := range c.socketList() {
		s.Disconnect(false)
	}
	c.Close(eio.ReasonForcedClose)
}

func (c *Conn) send(frames []eio.Packet, volatile bool) error {
	if c.remote != nil { // to the node holding the client (remoteconn.go)
		return c.remote.send(c, frames, volatile)
	}
	return c.Send(volatile, frames...)
}
