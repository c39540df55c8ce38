package core

import (
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// ErrServerClosed is returned by NewConn once the server is closing.
var ErrServerClosed = errors.New("sio: server closed")

// Conn is one client connection: an Engine.IO session and the sockets it
// carries, one per namespace.
type Conn struct {
	srv  *Server
	sid  string
	hs   Handshake
	wake func()

	// inMu serialises the inputs and the handlers they run.
	inMu sync.Mutex
	dec  sio.Decoder // under inMu
	done bool        // under inMu: the close has been handled

	// mu guards the session and the sockets.
	mu        sync.Mutex
	sess      *eio.Session
	sockets   map[string]*Socket
	connectBy time.Time
}

// NewConn starts a connection on transport t for a client whose request is
// described by hs. wake is called, never blocking and possibly under core's
// locks, whenever output is queued or the state changed; the adapter then
// takes the output and calls HandleTimeout.
func (s *Server) NewConn(t eio.Transport, hs Handshake, now time.Time, wake func()) (*Conn, error) {
	if wake == nil {
		wake = func() {}
	}
	sid := s.cfg.NewID()
	c := &Conn{
		srv:       s,
		sid:       sid,
		hs:        hs,
		wake:      wake,
		sess:      eio.NewServerSession(sid, s.cfg.Engine, t, now),
		sockets:   make(map[string]*Socket),
		connectBy: now.Add(s.cfg.ConnectTimeout),
	}
	c.dec = *sio.NewDecoder(s.cfg.Limits)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, ErrServerClosed
	}
	s.conns[sid] = c
	return c, nil
}

// SID is the Engine.IO session id.
func (c *Conn) SID() string { return c.sid }

// Handshake is the request that opened the connection.
func (c *Conn) Handshake() *Handshake { return &c.hs }

// Transport is the transport in use.
func (c *Conn) Transport() eio.Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.Transport()
}

// Upgrading reports whether a WebSocket probe is under way.
func (c *Conn) Upgrading() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.Upgrading()
}

// Closed reports whether the session is closed. Output may remain to flush.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.State() == eio.StateClosed
}

// CloseReason is why the connection closed.
func (c *Conn) CloseReason() eio.Reason {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.Reason()
}

// Session gives f the Engine.IO session under the connection's lock, for
// adapters that need more than the methods here.
func (c *Conn) Session(f func(*eio.Session)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c.sess)
}

// HandlePayload handles a polling request body.
func (c *Conn) HandlePayload(now time.Time, body []byte) error {
	return c.input(now, func() error { return c.sess.HandlePayload(now, body) })
}

// HandleFrame handles a WebSocket frame of the active transport.
func (c *Conn) HandleFrame(now time.Time, frame []byte, binary bool) error {
	return c.input(now, func() error { return c.sess.HandleFrame(now, frame, binary) })
}

// HandleTransportClose reports the end of the active transport.
func (c *Conn) HandleTransportClose(now time.Time, err error) {
	_ = c.input(now, func() error { c.sess.HandleTransportClose(now, err); return nil })
}

// StartProbe begins an upgrade: a WebSocket for this session arrived.
func (c *Conn) StartProbe(now time.Time) error {
	return c.input(now, func() error { return c.sess.StartProbe(now) })
}

// HandleProbeFrame handles a frame of the WebSocket being probed.
func (c *Conn) HandleProbeFrame(now time.Time, frame []byte, binary bool) error {
	return c.input(now, func() error { return c.sess.HandleProbeFrame(now, frame, binary) })
}

// HandleProbeClose reports the end of the probe WebSocket.
func (c *Conn) HandleProbeClose(now time.Time) {
	_ = c.input(now, func() error { c.sess.HandleProbeClose(now); return nil })
}

// HandleTimeout fires the timers due at now (heartbeat, upgrade, connect
// timeout, ack timeouts) and runs whatever a wake left pending.
func (c *Conn) HandleTimeout(now time.Time) {
	_ = c.input(now, func() error {
		c.sess.HandleTimeout(now)
		if !c.connectBy.IsZero() && !now.Before(c.connectBy) && len(c.sockets) == 0 {
			c.sess.Close(eio.ReasonForcedClose)
		}
		return nil
	})
	c.inMu.Lock()
	defer c.inMu.Unlock()
	for _, s := range c.socketList() {
		s.expireAcks(now)
	}
}

func (c *Conn) input(now time.Time, f func() error) error {
	c.inMu.Lock()
	defer c.inMu.Unlock()
	c.mu.Lock()
	err := f()
	c.mu.Unlock()
	c.process(now)
	if c.HasOutput() {
		c.wake()
	}
	return err
}

// process handles the session's events; inMu is held, mu is not.
func (c *Conn) process(now time.Time) {
	for {
		c.mu.Lock()
		ev, ok := c.sess.PollEvent()
		c.mu.Unlock()
		if !ok {
			return
		}
		switch ev.Kind {
		case eio.EventMessage:
			c.handleMessage(now, ev.Packet)
		case eio.EventClose:
			c.onClose(ev.Reason)
		case eio.EventUpgrade, eio.EventProbeAbort:
			c.wake()
		}
	}
}

func (c *Conn) handleMessage(now time.Time, m eio.Packet) {
	if c.done {
		return
	}
	var p *sio.Packet
	var err error
	if m.Binary {
		p, err = c.dec.DecodeBinary(m.Data)
	} else {
		p, err = c.dec.DecodeText(m.Data)
	}
	if err != nil {
		c.srv.log.Debug("sio: bad packet", "sid", c.sid, "err", err)
		c.closeSession(eio.ReasonParseError, err)
		return
	}
	if p == nil {
		return
	}
	c.mu.Lock()
	sock := c.sockets[p.Namespace]
	c.mu.Unlock()
	switch {
	case p.Type == sio.Connect && sock == nil:
		c.connect(now, p)
	case sock != nil && p.Type == sio.Disconnect:
		sock.onclose("client namespace disconnect")
	case sock != nil && (p.Type == sio.Event || p.Type == sio.BinaryEvent || p.Type == sio.Ack || p.Type == sio.BinaryAck):
		if err := sock.handle(p); err != nil {
			c.closeSession(eio.ReasonParseError, err)
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
	c.mu.Lock()
	c.sess.Close(r)
	c.mu.Unlock()
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

func (c *Conn) connect(now time.Time, p *sio.Packet) {
	c.mu.Lock()
	full := len(c.sockets) >= c.srv.cfg.MaxNamespacesPerConn
	c.mu.Unlock()
	if full {
		c.connectError(p.Namespace, "Too many namespaces", nil)
		return
	}
	hs := c.hs
	hs.Auth = sio.Raw{JSON: p.Data}
	nsp := c.srv.lookup(p.Namespace, &hs)
	if nsp == nil {
		c.connectError(p.Namespace, "Invalid namespace", nil)
		return
	}
	s := &Socket{id: c.srv.cfg.NewID(), nsp: nsp, conn: c, hs: hs}
	mws, onConn := nsp.handlers()
	for _, mw := range mws {
		if err := mw(s); err != nil {
			s.closed.Store(true)
			nsp.adapter.DelAll(s.id)
			var ce *ConnectError
			if errors.As(err, &ce) {
				c.connectError(p.Namespace, ce.Message, ce.Data)
			} else {
				c.connectError(p.Namespace, err.Error(), nil)
			}
			return
		}
	}
	c.mu.Lock()
	if c.sess.State() != eio.StateOpen {
		c.mu.Unlock()
		return
	}
	c.sockets[nsp.name] = s
	c.connectBy = time.Time{}
	c.mu.Unlock()
	s.connected.Store(true)
	nsp.add(s)
	nsp.adapter.AddAll(s.id, []string{s.id})
	b, _ := json.Marshal(connectAnswer{SID: s.id})
	ans := sio.Packet{Type: sio.Connect, Namespace: nsp.name, Data: b}
	_ = c.sendPacket(&ans, false)
	for _, h := range onConn {
		h(s)
	}
}

func (c *Conn) onClose(r eio.Reason) {
	if c.done {
		return
	}
	c.done = true
	reason := r.String()
	for _, s := range c.socketList() {
		s.onclose(reason)
	}
	c.dec.Reset()
	c.srv.removeConn(c)
}

func (c *Conn) socketList() []*Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Socket, 0, len(c.sockets))
	for _, s := range c.sockets {
		out = append(out, s)
	}
	return out
}

func (c *Conn) removeSocket(s *Socket) {
	c.mu.Lock()
	if c.sockets[s.nsp.name] == s {
		delete(c.sockets, s.nsp.name)
	}
	c.mu.Unlock()
}

// disconnectAll disconnects every socket, then closes the connection.
func (c *Conn) disconnectAll() {
	for _, s := range c.socketList() {
		s.Disconnect(false)
	}
	c.Close(eio.ReasonForcedClose)
}

// Close closes the connection for reason r. Its sockets see r as their
// disconnect reason once the adapter calls HandleTimeout after the wake.
func (c *Conn) Close(r eio.Reason) {
	c.closeSession(r, nil)
	c.wake()
}

func (c *Conn) wakeup() { c.wake() }

func (c *Conn) send(frames []eio.Packet, volatile bool) error {
	c.mu.Lock()
	err := c.sess.Send(volatile, frames...)
	c.mu.Unlock()
	if err != eio.ErrQueueFull {
		c.wake()
	}
	return err
}

// HasOutput reports whether TakeOutput would yield packets.
func (c *Conn) HasOutput() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.HasOutput()
}

// TakeOutput appends the packets waiting for the active transport to dst.
func (c *Conn) TakeOutput(dst []eio.Packet) []eio.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.TakeOutput(dst)
}

// TakeOutputLimit is TakeOutput bounded to max bytes of polling payload.
func (c *Conn) TakeOutputLimit(dst []eio.Packet, max int) []eio.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.TakeOutputLimit(dst, max)
}

// TakeProbeOutput appends the packets waiting for the probe WebSocket.
func (c *Conn) TakeProbeOutput(dst []eio.Packet) []eio.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.TakeProbeOutput(dst)
}

// Deadline is when HandleTimeout is next due.
func (c *Conn) Deadline() (time.Time, bool) {
	c.mu.Lock()
	t, ok := c.sess.Deadline()
	if ok && !c.connectBy.IsZero() && len(c.sockets) == 0 && c.connectBy.Before(t) {
		t = c.connectBy
	}
	c.mu.Unlock()
	if !ok {
		return t, false
	}
	for _, s := range c.socketList() {
		if d, ok := s.ackDeadline(); ok && d.Before(t) {
			t = d
		}
	}
	return t, true
}
