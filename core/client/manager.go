package client

import (
	"sync"
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// managerState is where the manager is between sessions.
//
//	state     input                                   next
//	idle      Connect, Socket.Connect                 opening (a session to dial)
//	opening   open packet                             open (CONNECT sent for every active socket)
//	opening   close, Timeout                          waiting (OnError, OnConnectError), or idle
//	open      close                                   waiting (OnClose, OnDisconnect), or idle
//	open      the last active socket leaves           idle (the session is closed)
//	waiting   the backoff delay passed                opening (OnReconnectAttempt)
//	waiting   ReconnectionAttempts exhausted          idle (OnReconnectFailed)
//	any       Close                                   idle for good
type managerState uint8

const (
	stateIdle managerState = iota
	stateOpening
	stateOpen
	stateWaiting
)

// Manager is the client side of one Socket.IO connection: an Engine.IO
// session at a time (an [Engine]), the sockets it carries, one per
// namespace, and reconnection. See the package documentation for how to
// drive it.
type Manager struct {
	cfg     Config
	backoff Backoff

	// inMu serialises the inputs and the handlers they run.
	inMu sync.Mutex

	// mu guards everything below, and the sockets' state.
	mu            sync.Mutex
	state         managerState
	eng           *Engine // the session opening or open
	dial          *Engine // eng, until the transport takes it
	openBy        time.Time
	reconnectAt   time.Time
	attempts      int
	reconnecting  bool
	skipReconnect bool
	closed        bool
	sockets       []*Socket
	nsps          map[string]*Socket

	nextID             uint64
	onOpen             hooks[func()]
	onClose            hooks[func(reason string, err error)]
	onError            hooks[func(err error)]
	onReconnectAttempt hooks[func(attempt int)]
	onReconnect        hooks[func(attempts int)]
	onReconnectFailed  hooks[func()]
}

// NewManager makes a manager. It opens no session until Connect or a
// socket's Connect.
func NewManager(cfg Config) *Manager {
	cfg = cfg.WithDefaults()
	return &Manager{
		cfg: cfg,
		backoff: Backoff{
			Min:    cfg.ReconnectionDelay,
			Max:    cfg.ReconnectionDelayMax,
			Factor: 2,
			Jitter: cfg.RandomizationFactor,
		},
		nsps: make(map[string]*Socket),
	}
}

// Config is the manager's configuration, defaults applied.
func (m *Manager) Config() Config { return m.cfg }

// Connect opens a session unless one is open or opening (the reference's
// open). A reconnection wait is cut short.
func (m *Manager) Connect(now time.Time) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if m.state == stateIdle || m.state == stateWaiting {
		m.openEngine(now)
	}
	m.mu.Unlock()
	m.cfg.Wake()
	return nil
}

// IsOpen reports whether a session is open.
func (m *Manager) IsOpen() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state == stateOpen
}

// Engine is the session opening or open, or nil.
func (m *Manager) Engine() *Engine {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.eng
}

// TakeDial returns the session the transport must now connect, once; nil
// when there is none.
func (m *Manager) TakeDial() *Engine {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.dial
	m.dial = nil
	return e
}

// Socket returns the socket of namespace nsp ("" and "/" are the main
// namespace; a name without a leading "/" is given one), making it on first
// use. It is not connected: register its handlers, then call Connect.
func (m *Manager) Socket(nsp string) *Socket {
	if nsp == "" || nsp[0] != '/' {
		nsp = "/" + nsp
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.nsps[nsp]; s != nil {
		return s
	}
	s := &Socket{m: m, nsp: nsp, handlers: make(map[string]*hooks[Handler])}
	m.nsps[nsp] = s
	m.sockets = append(m.sockets, s)
	return s
}

// Close ends the manager for good: every socket disconnects with "io
// client disconnect" (a DISCONNECT is queued for those connected), the
// session closes (the caller flushes its output, then ends the transport),
// no reconnection follows, and every ack still pending fails with
// ErrDisconnected or, when its event was never sent, ErrClosed.
func (m *Manager) Close(now time.Time) {
	var q calls
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	for _, s := range m.sockets {
		s.disconnectLocked(&q)
	}
	m.closed = true
	for _, s := range m.sockets {
		s.acks.Drain(func(_ int64, a *pendingAck) {
			fn := a.fn
			q.add(func() { fn(nil, ErrClosed) })
		})
		clear(s.sendBuf)
		s.sendBuf = nil
		clear(s.recvBuf)
		s.recvBuf = nil
	}
	m.closeEngineLocked(&q)
	m.mu.Unlock()
	q.run()
	m.cfg.Wake()
}

// Closed reports whether Close was called.
func (m *Manager) Closed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

func (m *Manager) hookID() uint64 {
	m.nextID++
	return m.nextID
}

func addHook[F any](m *Manager, h *hooks[F], fn F, once bool) (off func()) {
	m.mu.Lock()
	id := m.hookID()
	h.add(id, fn, once)
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		h.remove(id)
		m.mu.Unlock()
	}
}

// OnOpen adds a handler run when a session opens.
func (m *Manager) OnOpen(fn func()) (off func()) { return addHook(m, &m.onOpen, fn, false) }

// OnClose adds a handler run when an open session closes, with the reason
// (see the Reason constants) and its cause, if any.
func (m *Manager) OnClose(fn func(reason string, err error)) (off func()) {
	return addHook(m, &m.onClose, fn, false)
}

// OnError adds a handler run when a connection attempt fails before its
// handshake: a *ConnectFailure.
func (m *Manager) OnError(fn func(err error)) (off func()) { return addHook(m, &m.onError, fn, false) }

// OnReconnectAttempt adds a handler run when a reconnection attempt starts,
// with its number (from 1).
func (m *Manager) OnReconnectAttempt(fn func(attempt int)) (off func()) {
	return addHook(m, &m.onReconnectAttempt, fn, false)
}

// OnReconnect adds a handler run when a reconnection succeeds, with the
// number of attempts it took.
func (m *Manager) OnReconnect(fn func(attempts int)) (off func()) {
	return addHook(m, &m.onReconnect, fn, false)
}

// OnReconnectFailed adds a handler run when ReconnectionAttempts attempts
// have failed; the manager then stays idle until Connect.
func (m *Manager) OnReconnectFailed(fn func()) (off func()) {
	return addHook(m, &m.onReconnectFailed, fn, false)
}

// Deadline is when HandleTimeout is next due: the session's heartbeat and
// upgrade timers, the opening timeout, the reconnection delay and the ack
// deadlines. ok is false when nothing is pending.
func (m *Manager) Deadline() (t time.Time, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	consider := func(d time.Time) {
		if !d.IsZero() && (t.IsZero() || d.Before(t)) {
			t = d
		}
	}
	if e := m.eng; e != nil {
		if d, ok := e.sess.Deadline(); ok {
			consider(d)
		}
		if !e.opened {
			consider(m.openBy)
		}
	}
	if m.state == stateWaiting {
		consider(m.reconnectAt)
	}
	for _, s := range m.sockets {
		if d, ok := s.acks.NextDeadline(); ok {
			consider(time.Unix(0, d))
		}
	}
	return t, !t.IsZero()
}

func due(t, now time.Time) bool { return !t.IsZero() && !now.Before(t) }

// HandleTimeout fires the timers due at now, and handles whatever a
// command left pending (a session closed as a slow consumer, say).
func (m *Manager) HandleTimeout(now time.Time) {
	m.inMu.Lock()
	defer m.inMu.Unlock()
	changed := false
	m.mu.Lock()
	e := m.eng
	if e != nil {
		if d, ok := e.sess.Deadline(); ok && !now.Before(d) {
			e.sess.HandleTimeout(now)
			changed = true
		}
		if !e.opened && due(m.openBy, now) && e.sess.State() != eio.StateClosed {
			e.timedOut = true
			e.sess.Close(eio.ReasonForcedClose)
			changed = true
		}
	}
	m.mu.Unlock()
	if e != nil && m.process(now, e) {
		changed = true
	}
	var q calls
	m.mu.Lock()
	for _, s := range m.sockets {
		if s.expireAcks(now, &q) {
			changed = true
		}
	}
	if m.state == stateWaiting && due(m.reconnectAt, now) && !m.closed {
		n := m.attempts
		for _, f := range m.onReconnectAttempt.take() {
			q.add(func() { f(n) })
		}
		m.openEngine(now)
		changed = true
	}
	m.mu.Unlock()
	q.run()
	if changed {
		m.cfg.Wake()
	}
}

// openEngine starts a session to dial; mu is held.
func (m *Manager) openEngine(now time.Time) {
	e := &Engine{m: m, sess: eio.NewClientSession(m.cfg.Engine, m.cfg.Transport, now)}
	e.dec = *sio.NewDecoder(m.cfg.Limits)
	m.eng, m.dial = e, e
	m.state = stateOpening
	m.openBy = now.Add(m.cfg.Timeout)
	m.reconnectAt = time.Time{}
	m.skipReconnect = false
}

// closeEngineLocked closes the session, with no reconnection after it, and
// cancels a reconnection wait; mu is held. The manager is idle on return:
// the session's close event, handled later, changes nothing.
func (m *Manager) closeEngineLocked(q *calls) {
	m.skipReconnect = true
	if e := m.eng; e != nil {
		e.sess.Close(eio.ReasonForcedClose)
		// No socket is active: engineClosed opens nothing, so it needs no
		// time.
		m.engineClosed(time.Time{}, e, eio.ReasonForcedClose, nil, q)
	}
	if m.state == stateWaiting {
		m.state = stateIdle
		m.reconnectAt = time.Time{}
	}
	// Also when an attempt was opening: a later Connect starts afresh.
	m.reconnecting = false
	m.attempts = 0
}

// maybeCloseLocked closes the session once no socket is active, as the
// reference does; mu is held.
func (m *Manager) maybeCloseLocked(q *calls) {
	for _, s := range m.sockets {
		if s.active {
			return
		}
	}
	m.closeEngineLocked(q)
}

func (m *Manager) hasActive() bool {
	for _, s := range m.sockets {
		if s.active {
			return true
		}
	}
	return false
}

// process handles e's pending events, one at a time, running the
// callbacks of each before the next; inMu is held, mu is not. It reports
// whether there were any.
func (m *Manager) process(now time.Time, e *Engine) bool {
	handled := false
	for {
		var q calls
		m.mu.Lock()
		ev, ok := e.sess.PollEvent()
		if ok {
			m.handleEvent(now, e, ev, &q)
		}
		m.mu.Unlock()
		q.run()
		if !ok {
			return handled
		}
		handled = true
	}
}

func (m *Manager) handleEvent(now time.Time, e *Engine, ev eio.Event, q *calls) {
	switch ev.Kind {
	case eio.EventOpen:
		if e.done || m.eng != e {
			return
		}
		e.opened = true
		m.state = stateOpen
		m.openBy = time.Time{}
		for _, f := range m.onOpen.take() {
			q.add(f)
		}
		if m.reconnecting {
			n := m.attempts
			m.reconnecting = false
			m.attempts = 0
			for _, f := range m.onReconnect.take() {
				q.add(func() { f(n) })
			}
		}
		for _, s := range m.sockets {
			if s.active {
				s.sendConnectLocked()
			}
		}
	case eio.EventMessage:
		if e.done || m.eng != e {
			return
		}
		m.handleMessage(e, ev.Packet, q)
	case eio.EventClose:
		m.engineClosed(now, e, ev.Reason, ev.Err, q)
	}
}

func (m *Manager) handleMessage(e *Engine, msg eio.Packet, q *calls) {
	var p *sio.Packet
	var err error
	if msg.Binary {
		p, err = e.dec.DecodeBinary(msg.Data)
	} else {
		p, err = e.dec.DecodeText(msg.Data)
	}
	if err != nil {
		e.fail(err)
		return
	}
	if p == nil {
		return
	}
	s := m.nsps[p.Namespace]
	if s == nil || !s.active {
		// The reference ignores packets for a namespace it has not asked
		// to join.
		return
	}
	switch p.Type {
	case sio.Connect:
		s.onConnectPacket(p, q)
	case sio.ConnectError:
		s.onConnectErrorPacket(p, q)
	case sio.Event, sio.BinaryEvent:
		s.onEventPacket(e, p, q)
	case sio.Ack, sio.BinaryAck:
		s.onAckPacket(e, p, q)
	case sio.Disconnect:
		s.onDisconnectPacket(q)
	}
}

// engineClosed handles the end of session e; mu is held.
func (m *Manager) engineClosed(now time.Time, e *Engine, r eio.Reason, cause error, q *calls) {
	if e.done {
		return
	}
	e.done = true
	e.dec.Reset()
	if e.cause != nil {
		cause = e.cause
	}
	if m.eng != e {
		return
	}
	m.eng = nil
	if m.dial == e {
		m.dial = nil
	}
	m.openBy = time.Time{}
	m.state = stateIdle
	reason := reasonOf(r)
	for _, s := range m.sockets {
		s.connectSent = nil
		// Events that came before a CONNECT answer this session will
		// never give belong to a server socket that is gone.
		clear(s.recvBuf)
		s.recvBuf = nil
	}
	if e.opened {
		for _, f := range m.onClose.take() {
			q.add(func() { f(reason, cause) })
		}
		for _, s := range m.sockets {
			if s.connected {
				s.closedLocked(reason, q)
			}
		}
		// A session that opened restarts the backoff.
		m.attempts = 0
	} else {
		if e.timedOut {
			cause = ErrTimeout
		}
		err := &ConnectFailure{Reason: reason, Err: cause}
		for _, f := range m.onError.take() {
			q.add(func() { f(err) })
		}
		for _, s := range m.sockets {
			if s.active && !s.connected {
				for _, f := range s.onConnectErr.take() {
					q.add(func() { f(err) })
				}
			}
		}
	}
	if m.closed {
		return
	}
	if m.skipReconnect {
		if m.hasActive() {
			// A socket asked to connect after the session was told to
			// close: open a new one at once.
			m.openEngine(now)
		}
		return
	}
	if m.cfg.NoReconnection {
		m.reconnecting = false
		m.attempts = 0
		return
	}
	m.reconnect(now, q)
}

// reconnect schedules the next attempt, or gives up; mu is held.
func (m *Manager) reconnect(now time.Time, q *calls) {
	if m.cfg.ReconnectionAttempts > 0 && m.attempts >= m.cfg.ReconnectionAttempts {
		m.attempts = 0
		m.reconnecting = false
		for _, f := range m.onReconnectFailed.take() {
			q.add(f)
		}
		return
	}
	d := m.backoff.Delay(m.attempts, m.cfg.Rand())
	m.attempts++
	m.reconnecting = true
	m.state = stateWaiting
	m.reconnectAt = now.Add(d)
}

// sendLocked queues p on the open session; mu is held.
func (m *Manager) sendLocked(p *sio.Packet, volatile bool) error {
	e := m.eng
	if e == nil || !e.opened || e.done {
		return ErrDisconnected
	}
	var one [1]eio.Packet
	return e.sess.Send(volatile, sio.AppendFrames(one[:0], p)...)
}
