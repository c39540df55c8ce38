package client

import (
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// Engine is one Engine.IO session of a Manager: one connection attempt and,
// once its handshake arrived, the connection itself. The transport that
// took it from TakeDial feeds it what arrives and sends what it outputs;
// once TakeFinalOutputOn reports it closed and flushed, the transport ends.
type Engine struct {
	m    *Manager
	sess *eio.Session // under m.mu
	dec  sio.Decoder  // under m.inMu

	// Under m.mu.
	opened   bool  // the handshake arrived
	done     bool  // the manager has handled the close
	timedOut bool  // closed by Config.Timeout
	cause    error // why this side closed it, if it did
}

// Transport is the active transport: the one the session started on, then
// WebSocket once upgraded.
func (e *Engine) Transport() eio.Transport {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	return e.sess.Transport()
}

// SID is the Engine.IO session id ("" before the handshake).
func (e *Engine) SID() string {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	return e.sess.SID()
}

// Handshake is the server's handshake (zero before it arrived).
func (e *Engine) Handshake() eio.Handshake {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	return e.sess.Handshake()
}

// Opened reports whether the handshake arrived.
func (e *Engine) Opened() bool {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	return e.opened
}

// Closed reports whether the session is closed. Output may remain to
// flush.
func (e *Engine) Closed() bool {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	return e.sess.State() == eio.StateClosed
}

// CloseReason is why the session closed (eio.ReasonNone while open).
func (e *Engine) CloseReason() eio.Reason {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	return e.sess.Reason()
}

// Upgrading reports whether a WebSocket probe is under way.
func (e *Engine) Upgrading() bool {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	return e.sess.Upgrading()
}

// PollingPaused reports that the probe succeeded: no new polling request
// may start, and CompleteUpgrade is due once those in flight have ended.
func (e *Engine) PollingPaused() bool {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	return e.sess.PollingPaused()
}

// TakeOutputOn appends to dst the packets waiting for transport t, and
// nothing when t is not the active transport: a polling writer racing with
// an upgrade never takes the WebSocket's packets. On polling, max bounds
// the payload in bytes (the server's maxPayload; at least one packet is
// taken); 0 means no bound.
func (e *Engine) TakeOutputOn(t eio.Transport, dst []eio.Packet, max int) []eio.Packet {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	if e.sess.Transport() != t {
		return dst
	}
	if t == eio.Polling && max > 0 {
		return e.sess.TakeOutputLimit(dst, max)
	}
	return e.sess.TakeOutput(dst)
}

// TakeFinalOutputOn is TakeOutputOn for a transport's writer, which writes
// until the session is closed and flushed: done reports, in the same step
// as the take, that the session is closed and nothing was left for t. A
// writer must end on done, never on Closed asked apart from the take: what
// the session queues as it closes (a socket's DISCONNECT, the close packet
// on polling) would be lost if the close came between the two.
func (e *Engine) TakeFinalOutputOn(t eio.Transport, dst []eio.Packet, max int) (out []eio.Packet, done bool) {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	n := len(dst)
	closed := e.sess.State() == eio.StateClosed
	if e.sess.Transport() == t {
		if t == eio.Polling && max > 0 {
			dst = e.sess.TakeOutputLimit(dst, max)
		} else {
			dst = e.sess.TakeOutput(dst)
		}
	}
	return dst, closed && len(dst) == n
}

// TakeProbeOutput appends the packets waiting for the probe WebSocket.
func (e *Engine) TakeProbeOutput(dst []eio.Packet) []eio.Packet {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	return e.sess.TakeProbeOutput(dst)
}

// HandlePayload handles a polling response body.
func (e *Engine) HandlePayload(now time.Time, body []byte) error {
	return e.input(now, func() error { return e.sess.HandlePayload(now, body) })
}

// HandleFrame handles a frame of the active WebSocket.
func (e *Engine) HandleFrame(now time.Time, frame []byte, binary bool) error {
	return e.input(now, func() error { return e.sess.HandleFrame(now, frame, binary) })
}

// HandleTransportClose reports the end of the active transport: cleanly
// (err nil, "transport close") or not ("transport error"). Before the
// handshake it fails the attempt with err.
func (e *Engine) HandleTransportClose(now time.Time, err error) {
	_ = e.input(now, func() error {
		if err != nil && e.sess.State() != eio.StateClosed {
			e.cause = err
		}
		e.sess.HandleTransportClose(now, err)
		return nil
	})
}

// StartProbe begins an upgrade to WebSocket, once the probe WebSocket is
// connected; its probe ping is then in TakeProbeOutput.
func (e *Engine) StartProbe(now time.Time) error {
	return e.input(now, func() error { return e.sess.StartProbe(now) })
}

// HandleProbeFrame handles a frame of the probe WebSocket.
func (e *Engine) HandleProbeFrame(now time.Time, frame []byte, binary bool) error {
	return e.input(now, func() error { return e.sess.HandleProbeFrame(now, frame, binary) })
}

// HandleProbeClose reports the end of the probe WebSocket.
func (e *Engine) HandleProbeClose(now time.Time) {
	_ = e.input(now, func() error { e.sess.HandleProbeClose(now); return nil })
}

// CompleteUpgrade finishes the upgrade once polling is paused and no
// polling request is in flight: the probe becomes the active transport, and
// the upgrade packet is the first of its output.
func (e *Engine) CompleteUpgrade(now time.Time) error {
	return e.input(now, func() error { return e.sess.CompleteUpgrade(now) })
}

// Close closes the session with "forced close", as Manager.Close does but
// for this session alone: the manager then reconnects as configured.
func (e *Engine) Close(now time.Time) {
	_ = e.input(now, func() error { e.sess.Close(eio.ReasonForcedClose); return nil })
}

func (e *Engine) input(now time.Time, f func() error) error {
	m := e.m
	m.inMu.Lock()
	defer m.inMu.Unlock()
	m.mu.Lock()
	err := f()
	m.mu.Unlock()
	m.process(now, e)
	m.cfg.Wake()
	return err
}

// fail closes the session for a protocol violation; mu is held.
func (e *Engine) fail(err error) {
	if e.sess.State() == eio.StateClosed {
		return
	}
	e.cause = err
	e.sess.Close(eio.ReasonParseError)
}
