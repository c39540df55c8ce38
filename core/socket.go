package core

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

type handlerEntry struct {
	h     EventHandler
	event string // for the event handlers; "" for OnAny's
	once  bool
	id    uint64
}

// Socket is one client's connection to one namespace.
type Socket struct {
	id   string
	nsp  *Namespace
	conn *Conn
	hs   *Handshake // the connection's, with this socket's auth: see Handshake

	// state moves once from pending (middlewares running) to connected,
	// and from either to closed; life orders the moves with the namespace
	// and room changes that go with them.
	state    atomic.Int32
	accepted atomic.Bool // got past its middlewares (stays true once closed)
	life     sync.Mutex
	in       inbox  // the turns waiting for the socket's handlers
	drainFn  func() // s.drain, made once: a method value allocates
	// hasAnyOut: OnAnyOutgoing listeners exist (read on every broadcast).
	hasAnyOut atomic.Bool

	mu sync.Mutex
	// handlers of every event, in the order they were added. A slice, not
	// a map by event: a socket has few, and a map costs each socket about
	// 400 bytes. It is replaced, never changed in place below its length,
	// so that dispatch may run a copy of it unlocked.
	handlers     []handlerEntry
	onDisconnect []func(reason string)
	data         any
	// acks are the acknowledgements awaited from the client, made at the
	// first; rare holds what few sockets use. Both nil on a socket that
	// needs neither, which an idle one pays nothing for.
	acks *sio.AckTable[AckFunc]
	rare *socketRare
}

// socketRare is the part of a socket that most never use, made when one
// of its fields is first set; under Socket.mu.
type socketRare struct {
	anyHandlers     []handlerEntry
	anyOut          []func(event string, args []any)
	onDisconnecting []func(reason string)
	lastRooms       []string // the rooms it had when it closed
	// handedOver: it came from another node (RemoteConn.HandleHandover).
	handedOver bool
}

// rareLocked returns s.rare, made when needed; s.mu is held.
func (s *Socket) rareLocked() *socketRare {
	if s.rare == nil {
		s.rare = new(socketRare)
	}
	return s.rare
}

const (
	statePending int32 = iota
	stateConnected
	stateClosed
)

// ID is the socket's id, unique in its namespace; the socket is always in
// the room of that name.
func (s *Socket) ID() string { return s.id }

// Namespace is the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Conn is the connection the socket rides on.
func (s *Socket) Conn() *Conn { return s.conn }

// Handshake is what the client presented: request headers, query, address,
// and the auth payload of its namespace connect. It is shared: read it,
// never change it.
func (s *Socket) Handshake() *Handshake { return s.hs }

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool { return s.state.Load() == stateConnected }

// Data returns the application's data attached to the socket.
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData attaches the application's data to the socket; FetchSockets
// reports it (as JSON across nodes).
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// Info describes the socket as FetchSockets does.
func (s *Socket) Info() SocketInfo {
	return SocketInfo{ID: s.id, Handshake: *s.hs, Rooms: s.Rooms(), Data: s.Data()}
}

// On adds a handler for event and returns a function that removes it.
//
// Handlers run one at a time per socket, in the order the events arrived,
// on a goroutine of the adapter's, and may block for as long as they like
// (EmitWithAck, a database call, a sleep): meanwhile the connection keeps
// reading, answering heartbeats, resolving acknowledgements and firing
// their timeouts, and every other socket carries on. Only this socket's
// later events wait; when too many wait (Config.Inbox) the connection stops
// reading until the handler returns.
func (s *Socket) On(event string, h EventHandler) (off func()) { return s.on(event, h, false) }

// Once adds a handler that runs for the next event only.
func (s *Socket) Once(event string, h EventHandler) (off func()) { return s.on(event, h, true) }

func (s *Socket) on(event string, h EventHandler, once bool) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nsp.srv.handlerIDs.Add(1)
	// Appending writes past the length only, which no copy reads.
	s.handlers = append(s.handlers, handlerEntry{h: h, event: event, once: once, id: id})
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.handlers = removeHandler(s.handlers, id)
	}
}

func removeHandler(list []handlerEntry, id uint64) []handlerEntry {
	for i, e := range list {
		if e.id == id {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

// Off removes every handler of event.
func (s *Socket) Off(event string) {
	s.mu.Lock()
	s.handlers = keepHandlers(s.handlers, func(e handlerEntry) bool { return e.event != event })
	s.mu.Unlock()
}

// keepHandlers is a new list of the handlers of list that keep says to
// keep; list itself when it keeps them all.
func keepHandlers(list []handlerEntry, keep func(handlerEntry) bool) []handlerEntry {
	for i, e := range list {
		if keep(e) {
			continue
		}
		kept := append([]handlerEntry(nil), list[:i]...)
		for _, e := range list[i+1:] {
			if keep(e) {
				kept = append(kept, e)
			}
		}
		return kept
	}
	return list
}

// OnAny adds a handler that sees every incoming event before its own
// handlers, and returns a function that removes it.
func (s *Socket) OnAny(h EventHandler) (off func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nsp.srv.handlerIDs.Add(1)
	r := s.rareLocked()
	r.anyHandlers = append(r.anyHandlers, handlerEntry{h: h, id: id})
	return func() {
		s.mu.Lock()
		r.anyHandlers = removeHandler(r.anyHandlers, id)
		s.mu.Unlock()
	}
}

// OnAnyOutgoing adds a listener that sees every event sent to this socket,
// emitted to it alone or broadcast, before it is sent. It runs on the
// emitting goroutine and must not block; a broadcast's arguments come as
// their wire form (each an Args element).
func (s *Socket) OnAnyOutgoing(fn func(event string, args []any)) {
	s.mu.Lock()
	r := s.rareLocked()
	r.anyOut = append(r.anyOut, fn)
	s.hasAnyOut.Store(true)
	s.mu.Unlock()
}

// anyOutLocked is the OnAnyOutgoing listeners; s.mu is held.
func (s *Socket) anyOutLocked() []func(event string, args []any) {
	if s.rare == nil {
		return nil
	}
	return s.rare.anyOut
}

// outgoing shows a broadcast packet to the OnAnyOutgoing listeners.
func (s *Socket) outgoing(p *Outgoing) {
	if !s.hasAnyOut.Load() {
		return
	}
	name, args, ok := p.event()
	if !ok {
		return
	}
	s.mu.Lock()
	anyOut := s.anyOutLocked()
	s.mu.Unlock()
	for _, fn := range anyOut {
		fn(name, args)
	}
}

// OnDisconnecting adds a handler run when the socket is about to leave,
// while it is still in its rooms.
func (s *Socket) OnDisconnecting(fn func(reason string)) {
	s.mu.Lock()
	r := s.rareLocked()
	r.onDisconnecting = append(r.onDisconnecting, fn)
	s.mu.Unlock()
}

// OnDisconnect adds a handler run once the socket has left, with the
// reason: "client namespace disconnect", "server namespace disconnect",
// "transport close", "transport error", "ping timeout", "parse error",
// "forced close", "server shutting down".
func (s *Socket) OnDisconnect(fn func(reason string)) {
	s.mu.Lock()
	s.onDisconnect = append(s.onDisconnect, fn)
	s.mu.Unlock()
}

// Join puts the socket in rooms.
func (s *Socket) Join(rooms ...string) {
	s.life.Lock()
	defer s.life.Unlock()
	if s.state.Load() == stateClosed {
		return
	}
	s.nsp.adapter.AddAll(s.id, rooms)
}

// Leave takes the socket out of rooms.
func (s *Socket) Leave(rooms ...string) {
	for _, r := range rooms {
		s.nsp.adapter.Del(s.id, r)
	}
}

// Rooms lists the socket's rooms. Once it has disconnected: the rooms it
// had, until its OnDisconnecting handlers have run; then none.
func (s *Socket) Rooms() []string {
	if s.state.Load() == stateClosed {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.rare == nil {
			return nil
		}
		return slices.Clone(s.rare.lastRooms)
	}
	return s.nsp.adapter.SocketRooms(s.id)
}

// Emit sends an event to this socket.
func (s *Socket) Emit(event string, args ...any) error {
	return s.emit(event, args, nil, 0, false)
}

// EmitAck sends an event and calls ack with the client's answer (or
// ErrDisconnected). ack runs as a turn of this socket, after the handler
// running now returns: to wait for the answer inside a handler, use
// EmitWithAck.
func (s *Socket) EmitAck(event string, ack AckFunc, args ...any) error {
	return s.emit(event, args, s.queued(ack), 0, false)
}

// EmitWithAck sends an event and waits for the client's answer, until ctx
// ends. It may be called from a handler: the answer is taken by the
// connection's reader, not by the handler's goroutine.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return emitWithAck(ctx, func(ack AckFunc) (func(), error) {
		id, err := s.emitID(event, args, ack, 0, false)
		s.conn.waiting()
		return func() { s.cancelAck(id) }, err
	})
}

// Volatile returns an emitter whose events may be dropped when the
// client's queue is full.
func (s *Socket) Volatile() *SocketEmitter { return &SocketEmitter{s: s, volatile: true} }

// Timeout returns an emitter whose acknowledgements time out after d with
// ErrAckTimeout.
func (s *Socket) Timeout(d time.Duration) *SocketEmitter { return &SocketEmitter{s: s, timeout: d} }

// Compress returns an emitter with the compression flag set to c. The flag
// is advisory: the transport decides.
func (s *Socket) Compress(c bool) *SocketEmitter { return &SocketEmitter{s: s} }

// To broadcasts to rooms, leaving this socket out.
func (s *Socket) To(rooms ...string) *BroadcastOperator {
	return s.broadcast().To(rooms...)
}

// In is To.
func (s *Socket) In(rooms ...string) *BroadcastOperator { return s.To(rooms...) }

// Except broadcasts to every socket but those in rooms and this one.
func (s *Socket) Except(rooms ...string) *BroadcastOperator {
	return s.broadcast().Except(rooms...)
}

// Broadcast is the operator that reaches every socket of the namespace but
// this one.
func (s *Socket) Broadcast() *BroadcastOperator { return s.broadcast() }

func (s *Socket) broadcast() *BroadcastOperator {
	op := s.nsp.operator()
	op.opts.Except = []string{s.id}
	return op
}

// Disconnect sends the client a namespace disconnect; with close, every
// socket of the connection is disconnected and the connection closed.
func (s *Socket) Disconnect(close bool) {
	if close {
		s.conn.disconnectAll()
		return
	}
	if !s.Connected() {
		return
	}
	p := sio.Packet{Type: sio.Disconnect, Namespace: s.nsp.name}
	_ = s.conn.sendPacket(&p, false)
	s.onclose("server namespace disconnect")
}

// SocketEmitter emits to one socket with flags.
type SocketEmitter struct {
	s        *Socket
	volatile bool
	timeout  time.Duration
}

// Volatile sets the volatile flag.
func (e *SocketEmitter) Volatile() *SocketEmitter { c := *e; c.volatile = true; return &c }

// Timeout sets the ack timeout.
func (e *SocketEmitter) Timeout(d time.Duration) *SocketEmitter { c := *e; c.timeout = d; return &c }

// Emit sends an event.
func (e *SocketEmitter) Emit(event string, args ...any) error {
	return e.s.emit(event, args, nil, e.timeout, e.volatile)
}

// EmitAck sends an event and calls ack with the answer, ErrAckTimeout or
// ErrDisconnected, as a turn of the socket (see Socket.EmitAck).
func (e *SocketEmitter) EmitAck(event string, ack AckFunc, args ...any) error {
	return e.s.emit(event, args, e.s.queued(ack), e.timeout, e.volatile)
}

// EmitWithAck sends an event and waits for the answer, the timeout, or the
// end of ctx. It may be called from a handler (see Socket.EmitWithAck).
func (e *SocketEmitter) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return emitWithAck(ctx, func(ack AckFunc) (func(), error) {
		id, err := e.s.emitID(event, args, ack, e.timeout, e.volatile)
		e.s.conn.waiting()
		return func() { e.s.cancelAck(id) }, err
	})
}

func emitWithAck(ctx context.Context, start func(AckFunc) (cancel func(), err error)) (Args, error) {
	type answer struct {
		args Args
		err  error
	}
	ch := make(chan answer, 1)
	cancel, err := start(func(args Args, err error) { ch <- answer{args, err} })
	if err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		return a.args, a.err
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
}

func (s *Socket) emit(event string, args []any, ack AckFunc, timeout time.Duration, volatile bool) error {
	_, err := s.emitID(event, args, ack, timeout, volatile)
	return err
}

func (s *Socket) emitID(event string, args []any, ack AckFunc, timeout time.Duration, volatile bool) (int64, error) {
	if reserved(event) {
		return 0, reservedError(event)
	}
	if !s.Connected() {
		return 0, ErrDisconnected
	}
	s.mu.Lock()
	anyOut := s.anyOutLocked()
	s.mu.Unlock()
	for _, fn := range anyOut {
		fn(event, args)
	}
	var id int64
	if ack != nil {
		id = s.nsp.ackIDs.Add(1) - 1
	}
	var one [1]eio.Packet
	frames, err := sio.AppendEventFrames(one[:0], s.nsp.name, event, id, ack != nil, args)
	if err != nil {
		return 0, err
	}
	if ack != nil {
		s.addAck(id, s.nsp.srv.deadline(timeout), ack)
	}
	if err := s.conn.sendFrames(frames, volatile); err != nil {
		if ack != nil {
			if fn, ok := s.takeAck(id); ok {
				fn(nil, err)
			}
		}
		return id, err
	}
	return id, nil
}

func (s *Socket) addAck(id int64, deadline time.Time, fn AckFunc) {
	var d int64
	if !deadline.IsZero() {
		d = deadline.UnixNano()
	}
	s.mu.Lock()
	if s.acks == nil {
		s.acks = new(sio.AckTable[AckFunc])
	}
	ok := s.acks.Put(id, fn, d)
	s.mu.Unlock()
	if !ok {
		// The namespace counter came round to an id still pending here
		// (after 2^63 acks): fail the new one rather than the old.
		fn(nil, ErrAckIDInUse)
		return
	}
	if d != 0 {
		s.conn.moveDeadline()
	}
}

func (s *Socket) takeAck(id int64) (AckFunc, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acks == nil {
		return nil, false
	}
	return s.acks.Resolve(id)
}

func (s *Socket) cancelAck(id int64) { s.takeAck(id) }

func (s *Socket) ackDeadline() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acks == nil {
		return time.Time{}, false
	}
	d, ok := s.acks.NextDeadline()
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, d), true
}

func (s *Socket) expireAcks(now time.Time) {
	var due []AckFunc
	s.mu.Lock()
	if s.acks != nil {
		s.acks.Expire(now.UnixNano(), func(_ int64, fn AckFunc) { due = append(due, fn) })
	}
	s.mu.Unlock()
	for _, fn := range due {
		fn(nil, ErrAckTimeout)
	}
}

func (s *Socket) sendAck(id int64, args []any) error {
	if !s.Connected() {
		return ErrDisconnected
	}
	var one [1]eio.Packet
	frames, err := sio.AppendAckFrames(one[:0], s.nsp.name, id, args)
	if err != nil {
		return err
	}
	return s.conn.sendFrames(frames, false)
}

// handle runs the handlers of an event or ack packet from the client.
func (s *Socket) handle(p *sio.Packet) error {
	args, err := sio.SplitArgs(p)
	if err != nil {
		return err
	}
	switch p.Type {
	case sio.Ack, sio.BinaryAck:
		if fn, ok := s.takeAck(p.ID); ok {
			fn(Args(args), nil)
		}
		return nil
	}
	if len(args) == 0 {
		return nil
	}
	name := s.eventName(args[0].JSON)
	e := &Event{Socket: s, Name: name, Args: Args(args[1:]), ackID: p.ID, hasAck: p.HasID}
	size := len(p.Data)
	for _, a := range p.Attachments {
		size += len(a)
	}
	s.enqueue(task{ev: e, size: size})
	return nil
}

// dispatch runs the handlers of an event, as a turn of the socket. Events
// that were queued before the socket was refused are dropped; those queued
// before it disconnected still run.
func (s *Socket) dispatch(e *Event) {
	if !s.wasConnected() {
		return
	}
	name := e.Name
	s.mu.Lock()
	var anyH []handlerEntry
	if s.rare != nil {
		anyH = s.rare.anyHandlers
	}
	list := s.handlers
	// Drop this event's once handlers before running them: a new list,
	// while list, as it was, runs.
	s.handlers = keepHandlers(list, func(h handlerEntry) bool { return !h.once || h.event != name })
	s.mu.Unlock()
	for _, h := range anyH {
		h.h(e)
	}
	for _, h := range list {
		if h.event == name {
			h.h(e)
		}
	}
}

// wasConnected reports whether the socket got past its middlewares.
func (s *Socket) wasConnected() bool { return s.accepted.Load() }

// eventName is the name of an event from its first argument: a JSON
// string, or as the reference allows, a number (kept as its text).
func eventName(js []byte) string {
	if inner, ok := plainName(js); ok {
		return string(inner)
	}
	var name string
	if err := json.Unmarshal(js, &name); err != nil {
		return string(js)
	}
	return name
}

// plainName is the text of a JSON string with no escape and nothing but
// printable ASCII in it: the name as it is, with no decoding.
func plainName(js []byte) ([]byte, bool) {
	if len(js) < 2 || js[0] != '"' || js[len(js)-1] != '"' {
		return nil, false
	}
	inner := js[1 : len(js)-1]
	for _, c := range inner {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
	}
	return inner, true
}

// eventName is eventName(js) for an event of s: the name that one of its
// handlers listens to is that handler's string, not a copy.
func (s *Socket) eventName(js []byte) string {
	inner, ok := plainName(js)
	if !ok {
		return eventName(js)
	}
	s.mu.Lock()
	for _, h := range s.handlers {
		if h.event != "" && h.event == string(inner) {
			name := h.event
			s.mu.Unlock()
			return name
		}
	}
	s.mu.Unlock()
	return string(inner)
}

// onclose ends the socket. At once: it leaves its namespace, its rooms and
// its connection, and its pending acknowledgements fail with
// ErrDisconnected (releasing a handler blocked in EmitWithAck). Then, as a
// turn of the socket after the events already queued, its OnDisconnecting
// handlers run (Rooms still lists the rooms it had) and its OnDisconnect
// handlers. A socket still in its middlewares is only forgotten.
func (s *Socket) onclose(reason string) {
	s.life.Lock()
	prev := s.state.Swap(stateClosed)
	if prev == stateClosed {
		s.life.Unlock()
		return
	}
	s.conn.removeSocket(s)
	if prev == statePending {
		s.life.Unlock()
		s.nsp.adapter.DelAll(s.id)
		return
	}
	rooms := s.nsp.adapter.SocketRooms(s.id)
	if rooms == nil {
		rooms = []string{}
	}
	s.nsp.adapter.DelAll(s.id)
	s.nsp.remove(s)
	s.life.Unlock()
	var pending []AckFunc
	s.mu.Lock()
	s.rareLocked().lastRooms = rooms
	if s.acks != nil {
		s.acks.Drain(func(_ int64, fn AckFunc) { pending = append(pending, fn) })
	}
	s.mu.Unlock()
	for _, fn := range pending {
		fn(nil, ErrDisconnected)
	}
	s.enqueue(task{fn: func() {
		s.mu.Lock()
		disconnecting, disconnect := s.rare.onDisconnecting, s.onDisconnect
		s.mu.Unlock()
		for _, fn := range disconnecting {
			fn(reason)
		}
		s.mu.Lock()
		s.rare.lastRooms = nil // gone now, as the reference's leaveAll
		s.mu.Unlock()
		for _, fn := range disconnect {
			fn(reason)
		}
	}})
}
