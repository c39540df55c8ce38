package client

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// Socket is the client's connection to one namespace. It outlives the
// Engine.IO sessions of its manager: once connected it rejoins after every
// reconnection until it disconnects.
type Socket struct {
	m   *Manager
	nsp string

	// Under m.mu.
	auth        []byte  // the CONNECT payload, a JSON object, or nil
	active      bool    // wants to be connected (the reference's subscribed state)
	connected   bool    // the server confirmed
	connectSent *Engine // the session a CONNECT went out on, awaiting its answer
	id          string
	pid         string // the recovery id the server gave, if any
	offset      string // the offset of the last event, when pid is set
	recovered   bool

	handlers     map[string]*hooks[Handler]
	anyH         hooks[Handler]
	onConnect    hooks[func()]
	onConnectErr hooks[func(err error)]
	onDisconnect hooks[func(reason string)]

	acks    sio.AckTable[*pendingAck]
	nextAck int64
	sendBuf []buffered    // emitted while not connected
	recvBuf []*sio.Packet // events that came before the CONNECT answer
}

type buffered struct {
	p   sio.Packet
	ack *pendingAck // nil without ack
}

type pendingAck struct {
	fn       AckFunc
	deadline int64
	sent     bool
}

// Namespace is the socket's namespace.
func (s *Socket) Namespace() string { return s.nsp }

// Manager is the socket's manager.
func (s *Socket) Manager() *Manager { return s.m }

// ID is the socket id the server gave, "" while not connected.
func (s *Socket) ID() string {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.id
}

// Connected reports whether the server confirmed the connection.
func (s *Socket) Connected() bool {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.connected
}

// Active reports whether the socket wants to be connected: from Connect
// until Disconnect, a refusal or a server disconnect. An active socket
// rejoins after every reconnection.
func (s *Socket) Active() bool {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.active
}

// Recovered reports whether the last connection recovered the previous
// session's state (the server supports connection state recovery, and
// knew the socket).
func (s *Socket) Recovered() bool {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.recovered
}

// SetAuth sets the payload of the socket's CONNECT packets, the server's
// handshake auth: any value that encodes as a JSON object (a map, a
// struct, a json.RawMessage or sio.Raw holding an object), or nil for none.
// It applies to the next CONNECT.
func (s *Socket) SetAuth(v any) error {
	var b []byte
	var err error
	switch x := v.(type) {
	case nil:
	case sio.Raw:
		b, err = compactJSON(x.JSON)
	case *sio.Raw:
		if x != nil {
			b, err = compactJSON(x.JSON)
		}
	default:
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	if string(b) == "null" {
		b = nil
	}
	if b != nil && b[0] != '{' {
		return ErrBadAuth
	}
	s.m.mu.Lock()
	s.auth = b
	s.m.mu.Unlock()
	return nil
}

func compactJSON(js []byte) ([]byte, error) {
	if len(js) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, js); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Connect asks to join the namespace: the CONNECT goes out now if a session
// is open, else once one opens (a session is opened when the manager is
// idle). The outcome arrives through OnConnect or OnConnectError.
func (s *Socket) Connect(now time.Time) error {
	m := s.m
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	s.active = true
	switch {
	case m.state == stateIdle:
		m.openEngine(now)
	case m.state == stateOpen && !s.connected:
		s.sendConnectLocked()
	}
	m.mu.Unlock()
	m.cfg.Wake()
	return nil
}

// Disconnect leaves the namespace: a DISCONNECT goes to the server when
// connected, and the disconnect handlers run with "io client disconnect".
// The socket does not rejoin until Connect. When no socket of the manager
// remains active, the session closes. Events emitted while not connected
// stay buffered for the next Connect.
func (s *Socket) Disconnect() {
	m := s.m
	var q calls
	m.mu.Lock()
	s.disconnectLocked(&q)
	m.maybeCloseLocked(&q)
	m.mu.Unlock()
	q.run()
	m.cfg.Wake()
}

func (s *Socket) disconnectLocked(q *calls) {
	if s.connected {
		p := sio.Packet{Type: sio.Disconnect, Namespace: s.nsp}
		_ = s.m.sendLocked(&p, false)
	} else if s.active {
		// The attempt under way ends: whoever waits for its outcome learns.
		for _, f := range s.onConnectErr.take() {
			q.add(func() { f(ErrDisconnected) })
		}
	}
	s.active = false
	s.connectSent = nil
	s.pid, s.offset = "", ""
	if s.connected {
		s.closedLocked(ReasonClientDisconnect, q)
	}
}

// On adds a handler for event and returns a function that removes it.
func (s *Socket) On(event string, h Handler) (off func()) { return s.on(event, h, false) }

// Once adds a handler that runs for the next event only.
func (s *Socket) Once(event string, h Handler) (off func()) { return s.on(event, h, true) }

func (s *Socket) on(event string, h Handler, once bool) func() {
	m := s.m
	m.mu.Lock()
	id := m.hookID()
	hs := s.handlers[event]
	if hs == nil {
		hs = &hooks[Handler]{}
		s.handlers[event] = hs
	}
	hs.add(id, h, once)
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		if hs := s.handlers[event]; hs != nil {
			hs.remove(id)
			if len(hs.list) == 0 {
				delete(s.handlers, event)
			}
		}
		m.mu.Unlock()
	}
}

// Off removes every handler of event.
func (s *Socket) Off(event string) {
	s.m.mu.Lock()
	delete(s.handlers, event)
	s.m.mu.Unlock()
}

// OnAny adds a handler that sees every incoming event before the event's
// own handlers, and returns a function that removes it.
func (s *Socket) OnAny(h Handler) (off func()) { return addHook(s.m, &s.anyH, h, false) }

// OnConnect adds a handler run each time the server confirms the
// connection, after the events buffered meanwhile have been handled and
// sent.
func (s *Socket) OnConnect(fn func()) (off func()) { return addHook(s.m, &s.onConnect, fn, false) }

// OnConnectError adds a handler run when a connection fails: a
// *ConnectError when the server refused it (the socket is then inactive),
// a *ConnectFailure when the session could not be opened (the manager
// retries as configured), ErrDisconnected when Disconnect or the manager's
// Close ended the attempt.
func (s *Socket) OnConnectError(fn func(err error)) (off func()) {
	return addHook(s.m, &s.onConnectErr, fn, false)
}

// OnDisconnect adds a handler run when a connected socket loses its
// connection, with the reason: "io server disconnect", "io client
// disconnect", "ping timeout", "transport close", "transport error",
// "parse error" or "forced close".
func (s *Socket) OnDisconnect(fn func(reason string)) (off func()) {
	return addHook(s.m, &s.onDisconnect, fn, false)
}

// Emit sends an event. While the socket is not connected the event waits
// in a bounded buffer, sent once it connects.
func (s *Socket) Emit(event string, args ...any) error {
	_, err := s.EmitWith(EmitOptions{}, event, args...)
	return err
}

// EmitAck sends an event and calls ack with the server's answer, or with
// ErrAckTimeout at deadline (zero: none), or ErrDisconnected.
func (s *Socket) EmitAck(event string, deadline time.Time, ack AckFunc, args ...any) error {
	_, err := s.EmitWith(EmitOptions{Ack: ack, Deadline: deadline}, event, args...)
	return err
}

// EmitWith sends an event with the given options. It returns the ack id
// when o.Ack is set, for CancelAck. When it returns an error, o.Ack is never
// called.
func (s *Socket) EmitWith(o EmitOptions, event string, args ...any) (id int64, err error) {
	if reserved(event) {
		return 0, ErrReservedEvent
	}
	p, err := sio.NewEvent(s.nsp, event, args)
	if err != nil {
		return 0, err
	}
	m := s.m
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return 0, ErrClosed
	}
	if o.Ack != nil {
		id = s.nextAck
		s.nextAck++
		p.ID, p.HasID = id, true
	}
	var d int64
	if !o.Deadline.IsZero() {
		d = o.Deadline.UnixNano()
	}
	if s.connected {
		if err := m.sendLocked(&p, o.Volatile); err != nil {
			m.mu.Unlock()
			// A full queue closed the session as a slow consumer: the
			// driver must handle that close.
			m.cfg.Wake()
			if err == eio.ErrQueueFull {
				err = ErrDropped
			}
			return id, err
		}
		if o.Ack != nil {
			s.acks.Put(id, &pendingAck{fn: o.Ack, deadline: d, sent: true}, d)
		}
	} else {
		if o.Volatile {
			m.mu.Unlock()
			return id, ErrDropped
		}
		if len(s.sendBuf) >= m.cfg.MaxBufferedPackets {
			m.mu.Unlock()
			return id, ErrBufferFull
		}
		b := buffered{p: p}
		if o.Ack != nil {
			b.ack = &pendingAck{fn: o.Ack, deadline: d}
			s.acks.Put(id, b.ack, d)
		}
		s.sendBuf = append(s.sendBuf, b)
	}
	m.mu.Unlock()
	m.cfg.Wake()
	return id, nil
}

// CancelAck forgets the pending ack id without calling it; the event
// itself is still sent. It reports whether the ack was pending.
func (s *Socket) CancelAck(id int64) bool {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	_, ok := s.acks.Resolve(id)
	return ok
}

// PendingAcks is the number of acks awaiting an answer.
func (s *Socket) PendingAcks() int {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.acks.Len()
}

func (s *Socket) sendAck(id int64, args []any) error {
	p, err := sio.NewAck(s.nsp, id, args)
	if err != nil {
		return err
	}
	m := s.m
	m.mu.Lock()
	if !s.connected {
		m.mu.Unlock()
		return ErrDisconnected
	}
	err = m.sendLocked(&p, false)
	m.mu.Unlock()
	m.cfg.Wake()
	return err
}

// sendConnectLocked sends the CONNECT of the socket on the open session,
// once per session; mu is held.
func (s *Socket) sendConnectLocked() {
	if s.connected || (s.connectSent != nil && s.connectSent == s.m.eng) {
		return
	}
	p := sio.Packet{Type: sio.Connect, Namespace: s.nsp, Data: s.connectData()}
	if s.m.sendLocked(&p, false) == nil {
		s.connectSent = s.m.eng
	}
}

// connectData is the CONNECT payload: the auth, preceded by the recovery
// id and offset when the server gave one.
func (s *Socket) connectData() []byte {
	if s.pid == "" {
		return s.auth
	}
	b := []byte(`{"pid":`)
	b = appendJSONString(b, s.pid)
	if s.offset != "" {
		b = append(b, `,"offset":`...)
		b = appendJSONString(b, s.offset)
	}
	if len(s.auth) > 2 {
		b = append(b, ',')
		return append(b, s.auth[1:]...)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// closedLocked ends the socket's connection: the disconnect handlers, then
// the acks of the events sent on it fail; those of events still buffered
// wait for the next connection. mu is held.
func (s *Socket) closedLocked(reason string, q *calls) {
	s.connected = false
	s.id = ""
	s.connectSent = nil
	for _, f := range s.onDisconnect.take() {
		q.add(func() { f(reason) })
	}
	type kept struct {
		id int64
		a  *pendingAck
	}
	var keep []kept
	s.acks.Drain(func(id int64, a *pendingAck) {
		if a.sent {
			fn := a.fn
			q.add(func() { fn(nil, ErrDisconnected) })
		} else {
			keep = append(keep, kept{id, a})
		}
	})
	for _, k := range keep {
		s.acks.Put(k.id, k.a, k.a.deadline)
	}
}

func (s *Socket) onConnectPacket(p *sio.Packet, q *calls) {
	if s.connected {
		return
	}
	var ans struct {
		SID *string `json:"sid"`
		PID *string `json:"pid"`
	}
	if p.Data == nil || json.Unmarshal(p.Data, &ans) != nil || ans.SID == nil {
		err := &ConnectError{Message: "invalid CONNECT answer: the server speaks another protocol version"}
		s.connectSent = nil
		for _, f := range s.onConnectErr.take() {
			q.add(func() { f(err) })
		}
		return
	}
	pid := ""
	if ans.PID != nil {
		pid = *ans.PID
	}
	s.connected = true
	s.connectSent = nil
	s.id = *ans.SID
	s.recovered = pid != "" && pid == s.pid
	s.pid = pid
	if pid == "" {
		s.offset = ""
	}
	// As the reference: the buffered events are handled and the buffered
	// emits sent, then the connect handlers run.
	recv := s.recvBuf
	s.recvBuf = nil
	for _, bp := range recv {
		s.dispatchLocked(bp, q)
	}
	buf := s.sendBuf
	s.sendBuf = nil
	for i := range buf {
		if err := s.m.sendLocked(&buf[i].p, false); err != nil {
			// The session just closed: the rest waits for the next one.
			s.sendBuf = append(s.sendBuf, buf[i:]...)
			break
		}
		if buf[i].ack != nil {
			buf[i].ack.sent = true
		}
		buf[i] = buffered{}
	}
	for _, f := range s.onConnect.take() {
		q.add(f)
	}
}

func (s *Socket) onConnectErrorPacket(p *sio.Packet, q *calls) {
	ce := &ConnectError{}
	var w struct {
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if len(p.Data) > 0 && p.Data[0] == '"' {
		_ = json.Unmarshal(p.Data, &ce.Message)
	} else if json.Unmarshal(p.Data, &w) == nil {
		ce.Message = w.Message
		if len(w.Data) > 0 {
			ce.Data = sio.Raw{JSON: w.Data}
		}
	}
	wasConnected := s.connected
	s.active = false
	s.connectSent = nil
	if wasConnected {
		s.closedLocked(ReasonServerDisconnect, q)
	}
	for _, f := range s.onConnectErr.take() {
		q.add(func() { f(ce) })
	}
	s.m.maybeCloseLocked(q)
}

func (s *Socket) onEventPacket(e *Engine, p *sio.Packet, q *calls) {
	if !s.connected {
		if len(s.recvBuf) >= s.m.cfg.MaxBufferedEvents {
			e.fail(&sio.Error{Code: sio.ErrCodeBadPayload, Offset: -1, Limit: s.m.cfg.MaxBufferedEvents, Msg: "too many events before the CONNECT answer"})
			return
		}
		s.recvBuf = append(s.recvBuf, p)
		return
	}
	s.dispatchLocked(p, q)
}

// dispatchLocked runs the handlers of an event; mu is held.
func (s *Socket) dispatchLocked(p *sio.Packet, q *calls) {
	args, err := sio.SplitArgs(p)
	if err != nil || len(args) == 0 {
		if e := s.m.eng; e != nil {
			e.fail(err)
		}
		return
	}
	var name string
	if json.Unmarshal(args[0].JSON, &name) != nil {
		// The reference accepts a number as the event name.
		name = string(args[0].JSON)
	}
	if s.pid != "" && len(args) > 1 {
		var off string
		if json.Unmarshal(args[len(args)-1].JSON, &off) == nil {
			s.offset = off
		}
	}
	ev := &Event{Socket: s, Name: name, Args: Args(args[1:]), ackID: p.ID, hasAck: p.HasID}
	anyH := s.anyH.take()
	var named []Handler
	if hs := s.handlers[name]; hs != nil {
		named = hs.take()
		if len(hs.list) == 0 {
			delete(s.handlers, name)
		}
	}
	if len(anyH) == 0 && len(named) == 0 {
		return
	}
	q.add(func() {
		for _, h := range anyH {
			h(ev)
		}
		for _, h := range named {
			h(ev)
		}
	})
}

func (s *Socket) onAckPacket(e *Engine, p *sio.Packet, q *calls) {
	if !p.HasID {
		return
	}
	a, ok := s.acks.Resolve(p.ID)
	if !ok {
		return
	}
	args, err := sio.SplitArgs(p)
	if err != nil {
		// Put it back: the session closes, and the ack fails with it.
		s.acks.Put(p.ID, a, a.deadline)
		e.fail(err)
		return
	}
	fn := a.fn
	q.add(func() { fn(Args(args), nil) })
}

func (s *Socket) onDisconnectPacket(q *calls) {
	wasConnected := s.connected
	if !wasConnected && s.active {
		// A connect under way ends (the server's disconnect was for an
		// earlier socket, racing it): whoever waits for its outcome learns.
		for _, f := range s.onConnectErr.take() {
			q.add(func() { f(ErrDisconnected) })
		}
	}
	clear(s.recvBuf)
	s.recvBuf = nil
	s.active = false
	s.connectSent = nil
	s.pid, s.offset = "", ""
	if wasConnected {
		s.closedLocked(ReasonServerDisconnect, q)
	}
	s.m.maybeCloseLocked(q)
}

// expireAcks fails the acks due at now; mu is held. It reports whether any
// expired.
func (s *Socket) expireAcks(now time.Time, q *calls) bool {
	fired := false
	s.acks.Expire(now.UnixNano(), func(id int64, a *pendingAck) {
		fired = true
		if !a.sent {
			for i := range s.sendBuf {
				if s.sendBuf[i].ack == a {
					s.sendBuf = append(s.sendBuf[:i], s.sendBuf[i+1:]...)
					break
				}
			}
		}
		fn := a.fn
		q.add(func() { fn(nil, ErrAckTimeout) })
	})
	return fired
}
