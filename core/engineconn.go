package core

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/core/eio"
)

// EngineHandler receives what an EngineConn's session reports. Its methods
// run on the goroutine that delivered the input, with the connection's
// input serialised and no lock of its held: they may call Send and Close.
type EngineHandler interface {
	// OnMessage delivers a message from the peer.
	OnMessage(now time.Time, p eio.Packet)
	// OnClose reports the end of the session, once.
	OnClose(r eio.Reason, cause error)
	// OnTimeout runs after the session's own timers at each HandleTimeout,
	// for timers of the handler's (Deadline reports them).
	OnTimeout(now time.Time)
	// Deadline is the handler's next timer; ok false when none.
	Deadline() (t time.Time, ok bool)
}

// EngineConn is an Engine.IO session ready for an adapter's goroutines:
// inputs are serialised, events go to its handler without locks held, and
// Send is safe from any goroutine. Conn builds the Socket.IO connection on
// it; package httpadapter serves raw Engine.IO sessions with it.
type EngineConn struct {
	sid  string
	wake func()
	h    EngineHandler

	inMu   sync.Mutex // serialises inputs and the handler calls they cause
	closed bool       // under inMu: OnClose has run

	mu   sync.Mutex // guards sess
	sess *eio.Session

	tracer *slog.Logger // the debug trace, or nil (see SetTrace)

	rearm atomic.Bool // a timer was set outside an input: Deadline moved
	ended atomic.Bool // the session is closed (read without the lock)
}

// unlock releases mu, first noting whether the session has closed: the
// one thing read without the lock, by wake-ups on every emit.
func (c *EngineConn) unlock() {
	if c.sess.State() == eio.StateClosed {
		c.ended.Store(true)
	}
	c.mu.Unlock()
}

// NewEngineConn starts a server session with id sid on transport t. wake
// is called, never blocking, whenever output is queued or the state
// changed.
func NewEngineConn(sid string, cfg eio.Config, t eio.Transport, now time.Time, wake func(), h EngineHandler) *EngineConn {
	cfg = cfg.WithDefaults()
	return newEngineConn(sid, &cfg, t, now, wake, h)
}

// newEngineConn is NewEngineConn with a configuration that many sessions
// share (a Server's): see eio.NewSharedServerSession.
func newEngineConn(sid string, cfg *eio.Config, t eio.Transport, now time.Time, wake func(), h EngineHandler) *EngineConn {
	c := new(EngineConn)
	c.init(sid, cfg, t, now, wake, h)
	return c
}

// init starts c, not yet in use, as newEngineConn does: for an EngineConn
// inside another struct (Conn), which saves an allocation of its own.
func (c *EngineConn) init(sid string, cfg *eio.Config, t eio.Transport, now time.Time, wake func(), h EngineHandler) {
	if wake == nil {
		wake = func() {}
	}
	c.sid, c.wake, c.h = sid, wake, h
	c.sess = eio.NewSharedServerSession(sid, cfg, t, now)
}

// SID is the session id.
func (c *EngineConn) SID() string { return c.sid }

// Transport is the transport in use.
func (c *EngineConn) Transport() eio.Transport {
	c.mu.Lock()
	defer c.unlock()
	return c.sess.Transport()
}

// Upgrading reports whether a WebSocket probe is under way.
func (c *EngineConn) Upgrading() bool {
	c.mu.Lock()
	defer c.unlock()
	return c.sess.Upgrading()
}

// Closed reports whether the session is closed. Output may remain to flush.
func (c *EngineConn) Closed() bool { return c.ended.Load() }

// CloseReason is why the session closed.
func (c *EngineConn) CloseReason() eio.Reason {
	c.mu.Lock()
	defer c.unlock()
	return c.sess.Reason()
}

// HandlePayload handles a polling request body.
func (c *EngineConn) HandlePayload(now time.Time, body []byte) error {
	if c.tracer != nil {
		c.tracePayload(body)
	}
	return c.input(now, func() error { return c.sess.HandlePayload(now, body) })
}

// HandleFrame handles a WebSocket frame of the active transport.
func (c *EngineConn) HandleFrame(now time.Time, frame []byte, binary bool) error {
	if c.tracer != nil {
		c.traceFrame("in", frame, binary)
	}
	return c.input(now, func() error { return c.sess.HandleFrame(now, frame, binary) })
}

// HandleTransportClose reports the end of the active transport.
func (c *EngineConn) HandleTransportClose(now time.Time, err error) {
	_ = c.input(now, func() error { c.sess.HandleTransportClose(now, err); return nil })
}

// StartProbe begins an upgrade: a WebSocket for this session arrived.
func (c *EngineConn) StartProbe(now time.Time) error {
	return c.input(now, func() error { return c.sess.StartProbe(now) })
}

// HandleProbeFrame handles a frame of the WebSocket being probed.
func (c *EngineConn) HandleProbeFrame(now time.Time, frame []byte, binary bool) error {
	if c.tracer != nil {
		c.traceFrame("probe in", frame, binary)
	}
	return c.input(now, func() error { return c.sess.HandleProbeFrame(now, frame, binary) })
}

// HandleProbeClose reports the end of the probe WebSocket.
func (c *EngineConn) HandleProbeClose(now time.Time) {
	_ = c.input(now, func() error { c.sess.HandleProbeClose(now); return nil })
}

// HandleTimeout fires the timers due at now, the session's and the
// handler's, and delivers whatever a wake left pending (a close decided on
// another goroutine).
func (c *EngineConn) HandleTimeout(now time.Time) {
	c.inMu.Lock()
	defer c.inMu.Unlock()
	c.mu.Lock()
	c.sess.HandleTimeout(now)
	c.unlock()
	c.process(now)
	if !c.closed {
		c.h.OnTimeout(now)
		c.process(now)
	}
	if c.HasOutput() {
		c.wake()
	}
}

func (c *EngineConn) input(now time.Time, f func() error) error {
	c.inMu.Lock()
	defer c.inMu.Unlock()
	c.mu.Lock()
	before, had := c.sess.Deadline()
	err := f()
	after, has := c.sess.Deadline()
	c.unlock()
	c.process(now)
	if has && (!had || after.Before(before)) {
		// A pong brings the next ping forward (PingInterval after it,
		// which may come before the pong deadline the adapter's timer
		// waits for): the adapter must look at Deadline again.
		c.moveDeadline()
		return err
	}
	if c.HasOutput() {
		c.wake()
	}
	return err
}

// process hands the session's events to the handler; inMu is held.
func (c *EngineConn) process(now time.Time) {
	for {
		c.mu.Lock()
		ev, ok := c.sess.PollEvent()
		c.unlock()
		if !ok {
			return
		}
		switch ev.Kind {
		case eio.EventMessage:
			if !c.closed {
				c.h.OnMessage(now, ev.Packet)
			}
		case eio.EventClose:
			if !c.closed {
				c.closed = true
				c.h.OnClose(ev.Reason, ev.Err)
			}
		case eio.EventUpgrade, eio.EventProbeAbort:
			c.wake()
		}
	}
}

// Send queues packets for the peer, all or none; see eio.Session.Send.
// Safe from any goroutine.
func (c *EngineConn) Send(volatile bool, pkts ...eio.Packet) error {
	c.mu.Lock()
	err := c.sess.Send(volatile, pkts...)
	c.unlock()
	if err != eio.ErrQueueFull {
		c.wake()
	}
	return err
}

// sendThen is Send of pkts (never volatile) that runs then under the same
// lock, after queueing: whoever takes the output after pkts, or sends
// after, sees what then did.
func (c *EngineConn) sendThen(then func(), pkts ...eio.Packet) error {
	c.mu.Lock()
	err := c.sess.Send(false, pkts...)
	then()
	c.unlock()
	if err != eio.ErrQueueFull {
		c.wake()
	}
	return err
}

// Close closes the session for reason r. The handler's OnClose runs when
// the adapter next calls HandleTimeout, which the wake asks for.
func (c *EngineConn) Close(r eio.Reason) {
	c.mu.Lock()
	c.sess.Close(r)
	c.unlock()
	c.wake()
}

// HasOutput reports whether TakeOutput would yield packets.
func (c *EngineConn) HasOutput() bool {
	c.mu.Lock()
	defer c.unlock()
	return c.sess.HasOutput()
}

// TakeOutput appends the packets waiting for the active transport to dst.
func (c *EngineConn) TakeOutput(dst []eio.Packet) []eio.Packet {
	c.mu.Lock()
	n := len(dst)
	dst = c.sess.TakeOutput(dst)
	c.unlock()
	if c.tracer != nil {
		c.tracePackets("out", dst[n:])
	}
	return dst
}

// TakeOutputLimit is TakeOutput bounded to max bytes of polling payload.
func (c *EngineConn) TakeOutputLimit(dst []eio.Packet, max int) []eio.Packet {
	c.mu.Lock()
	n := len(dst)
	dst = c.sess.TakeOutputLimit(dst, max)
	c.unlock()
	if c.tracer != nil {
		c.tracePackets("out", dst[n:])
	}
	return dst
}

// TakeProbeOutput appends the packets waiting for the probe WebSocket.
func (c *EngineConn) TakeProbeOutput(dst []eio.Packet) []eio.Packet {
	c.mu.Lock()
	n := len(dst)
	dst = c.sess.TakeProbeOutput(dst)
	c.unlock()
	if c.tracer != nil {
		c.tracePackets("probe out", dst[n:])
	}
	return dst
}

// Deadline is when HandleTimeout is next due: the earlier of the session's
// timers and the handler's.
func (c *EngineConn) Deadline() (time.Time, bool) {
	c.mu.Lock()
	t, ok := c.sess.Deadline()
	c.unlock()
	if !ok {
		return t, false
	}
	if ht, hok := c.h.Deadline(); hok && ht.Before(t) {
		t = ht
	}
	return t, true
}

// DeadlineMoved reports, once, that a timer was set from outside an input
// (an ack timeout asked for by application code): the adapter must ask
// Deadline again. Adapters call it when woken.
func (c *EngineConn) DeadlineMoved() bool { return c.rearm.Swap(false) }

// moveDeadline notes a new timer and wakes the adapter.
func (c *EngineConn) moveDeadline() {
	c.rearm.Store(true)
	c.wake()
}

// Session gives f the Engine.IO session under the connection's lock.
func (c *EngineConn) Session(f func(*eio.Session)) {
	c.mu.Lock()
	defer c.unlock()
	f(c.sess)
}
