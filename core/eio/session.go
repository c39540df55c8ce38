package eio

import (
	"bytes"
	"slices"
	"time"
)

// Role is the side of a session.
type Role uint8

// The two roles.
const (
	RoleServer Role = iota
	RoleClient
)

func (r Role) String() string {
	if r == RoleClient {
		return "client"
	}
	return "server"
}

// State is where a session is in its life.
//
//	state     input                        next state
//	opening   open packet (client)         open
//	opening   any other packet             closed (parse error)
//	open      close packet (not on a server's WebSocket)  closed (transport close)
//	open      pong missing (server)        closed (ping timeout)
//	open      ping missing (client)        closed (ping timeout)
//	open      bad payload or frame         closed (parse error)
//	open      Close                        closed (its reason)
//	open      HandleTransportClose         closed (transport close / error)
//	open      Send past the queue limit    closed (transport error, slow consumer)
//
// The upgrade runs beside the open state:
//
//	upgrade   role     input                        next
//	none      both     StartProbe                   probing
//	probing   server   ping "probe" on the probe     probed (pong "probe" sent; polls get noops)
//	probing   client   pong "probe" on the probe     probed (polling paused)
//	probed    server   upgrade on the probe          done (active transport is WebSocket)
//	probed    client   CompleteUpgrade               done (upgrade sent on the probe)
//	probing+  both     anything else, timeout, close none (the probe is abandoned; the session goes on)
type State uint8

// The states.
const (
	StateOpening State = iota
	StateOpen
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateOpening:
		return "opening"
	case StateOpen:
		return "open"
	}
	return "closed"
}

type upgradeState uint8

const (
	upNone upgradeState = iota
	upProbing
	upProbed
	upDone
)

// EventKind is the kind of an Event.
type EventKind uint8

// The events a session reports.
const (
	EventOpen       EventKind = iota + 1 // client: the handshake arrived
	EventMessage                         // a message from the peer
	EventUpgrade                         // the session now runs on WebSocket
	EventProbeAbort                      // the probe failed: close the probe transport
	EventClose                           // the session closed; Reason and Err say why
)

// Event is something the application must learn of. The Data of a text
// message aliases the frame or body it arrived in: copy it to keep it past
// the caller's reuse of that buffer.
type Event struct {
	Kind   EventKind
	Packet Packet // EventMessage: the message
	Reason Reason // EventClose
	Err    error  // EventClose, EventProbeAbort: the cause, if any
}

// Session is one Engine.IO session in the server or client role. It is not
// safe for concurrent use: the caller serialises every call.
type Session struct {
	role      Role
	state     State
	transport Transport
	opened    Transport // the transport the session opened on
	up        upgradeState
	reason    Reason
	cfg       *Config // defaults applied; shared by a server's sessions, never changed
	sid       string
	// peer is the handshake a client received (nil before it and on a
	// server, whose handshake follows from its Config: see Handshake).
	peer *Handshake

	out      []Packet
	outBytes int
	probeOut []Packet
	events   []Event
	evHead   int

	// Timers, as offsets from epoch; 0 means unset.
	epoch     time.Time // the now the session was made with
	pingAt    timer     // server: send the next ping
	heartBy   timer     // server: the pong is due; client: the next ping is due
	upgradeBy timer     // both: the probe must have finished

	cause error
}

// NewServerSession starts a server session on transport t and queues the
// open packet.
func NewServerSession(sid string, cfg Config, t Transport, now time.Time) *Session {
	cfg = cfg.WithDefaults()
	return NewSharedServerSession(sid, &cfg, t, now)
}

// NewSharedServerSession is NewServerSession reading its configuration from
// *cfg, which the sessions of a server may share, rather than each keeping a
// copy: *cfg must not change afterwards. When cfg lacks its defaults, the
// session keeps a copy with them applied.
func NewSharedServerSession(sid string, cfg *Config, t Transport, now time.Time) *Session {
	if d := cfg.WithDefaults(); d != *cfg {
		cfg = new(Config)
		*cfg = d
	}
	s := &Session{role: RoleServer, cfg: cfg, sid: sid, state: StateOpen, transport: t, opened: t}
	hs := s.Handshake()
	s.push(Packet{Type: Open, Data: AppendHandshake(nil, &hs)})
	s.epoch = now
	s.pingAt = s.after(now, cfg.PingInterval)
	return s
}

// NewClientSession starts a client session on transport t. It waits for the
// server's open packet; its heartbeat limits come from that handshake.
func NewClientSession(cfg Config, t Transport, now time.Time) *Session {
	cfg = cfg.WithDefaults()
	s := &Session{role: RoleClient, cfg: &cfg, state: StateOpening, transport: t}
	// A server that never sends the handshake is as dead as a silent one.
	s.epoch = now
	s.heartBy = s.after(now, cfg.PingInterval+cfg.PingTimeout)
	return s
}

// Epoch is the now the session was made with. It never changes, so it may
// be read without serialising with the session's other calls.
func (s *Session) Epoch() time.Time { return s.epoch }

// SID is the session id ("" on a client before the handshake).
func (s *Session) SID() string { return s.sid }

// Role is the session's role.
func (s *Session) Role() Role { return s.role }

// State is the session's state.
func (s *Session) State() State { return s.state }

// Transport is the active transport.
func (s *Session) Transport() Transport { return s.transport }

// Handshake is the handshake sent (server) or received (client; the zero
// Handshake before it).
func (s *Session) Handshake() Handshake {
	if s.role == RoleClient {
		if s.peer == nil {
			return Handshake{}
		}
		return *s.peer
	}
	// A server's follows from its configuration, rather than being kept
	// by every session.
	hs := Handshake{
		SID:          s.sid,
		Upgrades:     []string{},
		PingInterval: s.cfg.PingInterval,
		PingTimeout:  s.cfg.PingTimeout,
		MaxPayload:   s.cfg.Limits.MaxPayload,
	}
	if s.opened == Polling && s.cfg.AllowUpgrades {
		hs.Upgrades = []string{"websocket"}
	}
	return hs
}

// Config is the session's configuration, defaults applied.
func (s *Session) Config() Config { return *s.cfg }

// Upgrading reports whether a probe is under way.
func (s *Session) Upgrading() bool { return s.up == upProbing || s.up == upProbed }

// PollingPaused reports, on a client, that the probe succeeded and polling
// must pause: no new poll may start, and CompleteUpgrade is due once the
// requests in flight have finished.
func (s *Session) PollingPaused() bool { return s.role == RoleClient && s.up == upProbed }

// Reason is why the session closed (ReasonNone while it is not closed).
func (s *Session) Reason() Reason { return s.reason }

// Cause is the error behind the close, if any.
func (s *Session) Cause() error { return s.cause }

// QueuedPackets is the number of packets waiting for the transport.
func (s *Session) QueuedPackets() int { return len(s.out) }

// HandlePacket handles a packet that arrived on the active transport. A
// protocol violation closes the session with ReasonParseError and is
// returned as an *Error.
func (s *Session) HandlePacket(now time.Time, p Packet) error {
	if s.state == StateClosed {
		return nil
	}
	if s.state == StateOpening {
		if p.Type != Open {
			return s.violation(now, &Error{Code: ErrUnexpectedPacket, Detail: "expected open, got " + p.Type.String()})
		}
		hs, err := ParseHandshake(p.Data)
		if err != nil {
			return s.violation(now, err)
		}
		s.peer, s.sid, s.state = &hs, hs.SID, StateOpen
		s.heartBy = s.after(now, hs.PingInterval+hs.PingTimeout)
		s.pushEvent(Event{Kind: EventOpen})
		return nil
	}
	switch p.Type {
	case Message:
		s.pushEvent(Event{Kind: EventMessage, Packet: p})
	case Close:
		if s.role == RoleServer && s.transport == WebSocket {
			// Over WebSocket a client closes the WebSocket itself; the
			// reference ignores a close packet there, and so does this
			// side: the session ends with its WebSocket.
			break
		}
		s.closeQuiet(ReasonTransportClose, nil)
	case Ping:
		if s.role == RoleServer {
			// In v4 only the server pings. The reference closes with
			// "transport error" (an invalid heartbeat direction).
			err := &Error{Code: ErrUnexpectedPacket, Detail: "ping from client: invalid heartbeat direction"}
			s.close(ReasonTransportError, err)
			return err
		}
		s.heartBy = s.after(now, s.peer.PingInterval+s.peer.PingTimeout)
		// The pong carries no data: p.Data aliases the caller's buffer,
		// which must not outlive this call in the output queue.
		s.push(Packet{Type: Pong})
	case Pong:
		if s.role == RoleServer {
			s.heartBy = 0
			s.pingAt = s.after(now, s.cfg.PingInterval)
		}
	default:
		// open, upgrade and noop on the active transport are ignored, as
		// the reference implementations do.
	}
	return nil
}

// HandlePayload decodes a polling body and handles its packets in order.
// A body that does not decode closes the session with ReasonParseError.
func (s *Session) HandlePayload(now time.Time, body []byte) error {
	if s.state == StateClosed {
		return nil
	}
	err := DecodePayload(body, s.cfg.Limits, func(p Packet) error {
		if s.state == StateClosed {
			return nil
		}
		return s.HandlePacket(now, p)
	})
	if err != nil && s.state != StateClosed {
		return s.violation(now, err)
	}
	return err
}

// HandleFrame decodes a WebSocket frame of the active transport and handles
// its packet.
func (s *Session) HandleFrame(now time.Time, frame []byte, binary bool) error {
	if s.state == StateClosed {
		return nil
	}
	if len(frame) > s.cfg.Limits.MaxPayload {
		return s.violation(now, &Error{Code: ErrPayloadTooLarge, Limit: s.cfg.Limits.MaxPayload, Offset: s.cfg.Limits.MaxPayload})
	}
	p, err := DecodeFrame(frame, binary)
	if err != nil {
		return s.violation(now, err)
	}
	return s.HandlePacket(now, p)
}

// HandleTimeout fires the timers that are due at now.
func (s *Session) HandleTimeout(now time.Time) {
	if s.state == StateClosed {
		return
	}
	if s.due(s.heartBy, now) {
		s.close(ReasonPingTimeout, nil)
		return
	}
	if s.role == RoleServer && s.due(s.pingAt, now) {
		s.pingAt = 0
		s.heartBy = s.after(now, s.cfg.PingTimeout)
		s.push(Packet{Type: Ping})
	}
	if s.due(s.upgradeBy, now) {
		s.abortProbe(nil)
	}
}

// timer is a deadline of a session as its offset from the session's
// epoch, 0 when unset: a third of a time.Time, with the same arithmetic
// (monotonic when now has a monotonic reading).
type timer time.Duration

// after is the timer that falls d after now.
func (s *Session) after(now time.Time, d time.Duration) timer {
	if t := timer(now.Sub(s.epoch) + d); t != 0 {
		return t
	}
	return 1 // 0 means unset: a nanosecond later
}

// due reports whether timer t is set and due at now.
func (s *Session) due(t timer, now time.Time) bool {
	return t != 0 && now.Sub(s.epoch) >= time.Duration(t)
}

// HandleTransportClose reports that the active transport ended: cleanly
// (err == nil, ReasonTransportClose) or not (ReasonTransportError).
func (s *Session) HandleTransportClose(now time.Time, err error) {
	if err != nil {
		s.closeQuiet(ReasonTransportError, err)
	} else {
		s.closeQuiet(ReasonTransportClose, nil)
	}
}

// Deadline is when HandleTimeout is next due; ok is false when no timer is
// set.
func (s *Session) Deadline() (t time.Time, ok bool) {
	if s.state == StateClosed {
		return time.Time{}, false
	}
	var next timer
	for _, d := range [...]timer{s.pingAt, s.heartBy, s.upgradeBy} {
		if d != 0 && (next == 0 || d < next) {
			next = d
		}
	}
	if next == 0 {
		return time.Time{}, false
	}
	return s.epoch.Add(time.Duration(next)), true
}

// Send queues packets for the peer, all or none. When the queue is over its
// limits a volatile send is dropped with ErrQueueFull, and any other closes
// the session as a slow consumer and returns ErrSlowConsumer. A client may
// send while it waits for the handshake; the packets wait in the queue.
func (s *Session) Send(volatile bool, pkts ...Packet) error {
	if s.state == StateClosed {
		return ErrClosed
	}
	n := 0
	for _, p := range pkts {
		n += len(p.Data)
	}
	if len(s.out)+len(pkts) > s.cfg.MaxQueuedPackets || s.outBytes+n > s.cfg.MaxQueuedBytes {
		if volatile {
			return ErrQueueFull
		}
		s.closeQuiet(ReasonTransportError, ErrSlowConsumer)
		return ErrSlowConsumer
	}
	for _, p := range pkts {
		s.push(p)
	}
	return nil
}

// Close closes the session for reason r (ReasonNone counts as
// ReasonForcedClose). On polling a close packet is queued for the peer; the
// caller flushes the output and then ends the transport.
func (s *Session) Close(r Reason) {
	if r == ReasonNone {
		r = ReasonForcedClose
	}
	s.close(r, nil)
}

func (s *Session) violation(now time.Time, err error) error {
	s.close(ReasonParseError, err)
	return err
}

// closeQuiet closes without the close packet: the peer or the transport
// ended the session, and there is nobody to tell.
func (s *Session) closeQuiet(r Reason, cause error) { s.closeWith(r, cause, false) }

func (s *Session) close(r Reason, cause error) { s.closeWith(r, cause, true) }

// closeWith closes the session; with tell, a polling peer is sent a close
// packet on its next poll.
func (s *Session) closeWith(r Reason, cause error, tell bool) {
	if s.state == StateClosed {
		return
	}
	if tell && s.transport == Polling && s.state == StateOpen {
		s.push(Packet{Type: Close})
	}
	s.state, s.reason, s.cause = StateClosed, r, cause
	s.pingAt, s.heartBy, s.upgradeBy = 0, 0, 0
	if s.Upgrading() {
		s.up = upNone
		s.probeOut = nil
		s.pushEvent(Event{Kind: EventProbeAbort})
	}
	s.pushEvent(Event{Kind: EventClose, Reason: r, Err: cause})
}

// StartProbe begins an upgrade to WebSocket: on a server when a WebSocket
// for this session arrives, on a client to open one. The client's probe
// ping is then in TakeProbeOutput.
func (s *Session) StartProbe(now time.Time) error {
	if s.state != StateOpen || s.transport != Polling || s.up != upNone {
		return ErrUpgrade
	}
	if s.role == RoleServer && !s.cfg.AllowUpgrades {
		return ErrUpgrade
	}
	if s.role == RoleClient {
		if s.peer == nil || !slices.Contains(s.peer.Upgrades, "websocket") {
			return ErrUpgrade
		}
		s.probeOut = append(s.probeOut, Packet{Type: Ping, Data: probe})
	}
	s.up = upProbing
	s.upgradeBy = s.after(now, s.cfg.UpgradeTimeout)
	return nil
}

// HandleProbePacket handles a packet that arrived on the WebSocket being
// probed. Anything out of order abandons the probe (EventProbeAbort) and is
// returned as an error; the session goes on over polling. Once the upgrade
// is done the probe is the active transport, and its packets are handled as
// by HandlePacket.
func (s *Session) HandleProbePacket(now time.Time, p Packet) error {
	if s.up == upDone {
		return s.HandlePacket(now, p)
	}
	if s.state != StateOpen || !s.Upgrading() {
		return nil
	}
	switch {
	case s.role == RoleServer && s.up == upProbing && p.Type == Ping && bytes.Equal(p.Data, probe):
		s.probeOut = append(s.probeOut, Packet{Type: Pong, Data: probe})
		s.up = upProbed
		return nil
	case s.role == RoleServer && s.up == upProbed && p.Type == Upgrade:
		s.finishUpgrade()
		return nil
	case s.role == RoleClient && s.up == upProbing && p.Type == Pong && bytes.Equal(p.Data, probe):
		s.up = upProbed
		return nil
	}
	err := &Error{Code: ErrUnexpectedPacket, Detail: p.Type.String() + " during upgrade"}
	s.abortProbe(err)
	return err
}

// HandleProbeFrame decodes a frame of the WebSocket being probed and handles
// its packet; once the upgrade is done, as HandleFrame does.
func (s *Session) HandleProbeFrame(now time.Time, frame []byte, binary bool) error {
	if s.up == upDone {
		return s.HandleFrame(now, frame, binary)
	}
	if s.state != StateOpen || !s.Upgrading() {
		return nil
	}
	if len(frame) > s.cfg.Limits.MaxPayload {
		err := &Error{Code: ErrPayloadTooLarge, Limit: s.cfg.Limits.MaxPayload}
		s.abortProbe(err)
		return err
	}
	p, err := DecodeFrame(frame, binary)
	if err != nil {
		s.abortProbe(err)
		return err
	}
	return s.HandleProbePacket(now, p)
}

// HandleProbeClose reports that the probe WebSocket ended. Before the
// upgrade finished it abandons the probe (EventProbeAbort, polling goes on);
// after, the probe is the active transport and the session closes with
// ReasonTransportClose.
func (s *Session) HandleProbeClose(now time.Time) {
	if s.up == upDone {
		s.HandleTransportClose(now, nil)
		return
	}
	s.abortProbe(nil)
}

// CompleteUpgrade finishes a client's upgrade once polling has paused: it
// queues the upgrade packet on the probe, which becomes the active
// transport, with every packet queued meanwhile. The upgrade packet goes out
// first whether the caller then calls TakeProbeOutput or TakeOutput.
func (s *Session) CompleteUpgrade(now time.Time) error {
	if s.role != RoleClient || s.state != StateOpen || s.up != upProbed {
		return ErrUpgrade
	}
	s.probeOut = append(s.probeOut, Packet{Type: Upgrade})
	s.finishUpgrade()
	return nil
}

func (s *Session) finishUpgrade() {
	s.up = upDone
	s.transport = WebSocket
	s.upgradeBy = 0
	s.pushEvent(Event{Kind: EventUpgrade})
}

func (s *Session) abortProbe(err error) {
	if !s.Upgrading() {
		return
	}
	s.up = upNone
	s.upgradeBy = 0
	s.probeOut = nil
	s.pushEvent(Event{Kind: EventProbeAbort, Err: err})
}

func (s *Session) push(p Packet) {
	s.out = append(s.out, p)
	s.outBytes += len(p.Data)
}

func (s *Session) pushEvent(e Event) {
	s.events = append(s.events, e)
}

// PollEvent returns the next event, if any.
func (s *Session) PollEvent() (Event, bool) {
	if s.evHead == len(s.events) {
		return Event{}, false
	}
	e := s.events[s.evHead]
	s.events[s.evHead] = Event{}
	s.evHead++
	if s.evHead == len(s.events) {
		s.events, s.evHead = keep(s.events), 0
	}
	return e, true
}

// keepSlots is the capacity a queue keeps once drained: enough for the
// packets and events of one message, so that a busy session reuses it,
// while an idle one holds no more than that after a burst.
const keepSlots = 4

// keep returns q emptied, its array kept unless larger than keepSlots. q's
// elements must have been cleared.
func keep[T any](q []T) []T {
	if cap(q) > keepSlots {
		return nil
	}
	return q[:0]
}

// TakeOutput appends the packets queued for the active transport to dst and
// removes them from the queue. While a server's probe waits for the upgrade
// packet, an empty queue yields a noop, which releases a pending poll. While
// a client's polling is paused it yields nothing.
func (s *Session) TakeOutput(dst []Packet) []Packet {
	if s.PollingPaused() {
		return dst
	}
	if s.up == upDone && len(s.probeOut) > 0 {
		// The probe became the active transport before its last packets
		// (the client's upgrade) were taken: they go first.
		dst = s.TakeProbeOutput(dst)
	}
	if len(s.out) == 0 {
		if s.role == RoleServer && s.up == upProbed && s.state == StateOpen {
			dst = append(dst, Packet{Type: Noop})
		}
		return dst
	}
	dst = append(dst, s.out...)
	clear(s.out)
	s.out, s.outBytes = keep(s.out), 0
	return dst
}

// TakeOutputLimit is TakeOutput for a polling response bounded to max bytes
// of payload: it takes whole packets from the head of the queue while they
// fit (always at least one).
func (s *Session) TakeOutputLimit(dst []Packet, max int) []Packet {
	if s.PollingPaused() || len(s.out) == 0 || max <= 0 || s.transport == WebSocket {
		return s.TakeOutput(dst)
	}
	n, size := 0, 0
	for n < len(s.out) {
		l := PayloadLen(s.out[n : n+1])
		if n > 0 {
			l++
		}
		if n > 0 && size+l > max {
			break
		}
		size += l
		n++
	}
	dst = append(dst, s.out[:n]...)
	for _, p := range s.out[:n] {
		s.outBytes -= len(p.Data)
	}
	rest := copy(s.out, s.out[n:])
	clear(s.out[rest:])
	s.out = s.out[:rest]
	if rest == 0 {
		s.out = keep(s.out)
	}
	return dst
}

// TakeProbeOutput appends the packets queued for the probe WebSocket to dst.
func (s *Session) TakeProbeOutput(dst []Packet) []Packet {
	dst = append(dst, s.probeOut...)
	// The probe's queue serves the upgrade alone: nothing is kept.
	s.probeOut = nil
	return dst
}

// HasOutput reports whether TakeOutput would yield anything.
func (s *Session) HasOutput() bool {
	if s.PollingPaused() {
		return false
	}
	return len(s.out) > 0 || (s.up == upDone && len(s.probeOut) > 0) || (s.role == RoleServer && s.up == upProbed && s.state == StateOpen)
}
