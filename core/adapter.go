package core

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// BroadcastFlags modify a broadcast.
type BroadcastFlags struct {
	// Volatile packets may be dropped when a client's queue is full.
	Volatile bool
	// Local broadcasts stay on this node.
	Local bool
	// NoCompress asks the transport not to compress the packet.
	NoCompress bool
	// Timeout bounds the wait for acknowledgements.
	Timeout time.Duration
}

// BroadcastOptions select the sockets a broadcast or request reaches: those
// in any of Rooms (every socket when Rooms is empty), less those in any of
// Except.
type BroadcastOptions struct {
	Rooms  []string
	Except []string
	Flags  BroadcastFlags
}

// Outgoing is a packet on its way to many sockets: its Socket.IO form, and
// its Engine.IO frames encoded once and shared by every recipient.
type Outgoing struct {
	Packet sio.Packet
	once   sync.Once
	frames []eio.Packet
}

// Frames returns the Engine.IO packets of o: the text packet, then one
// binary message per attachment. The slices are shared; never modify them.
func (o *Outgoing) Frames() []eio.Packet {
	o.once.Do(func() {
		o.frames = sio.AppendFrames(make([]eio.Packet, 0, 1+len(o.Packet.Attachments)), &o.Packet)
	})
	return o.frames
}

// SocketInfo describes a socket anywhere in the cluster, as FetchSockets
// returns it.
type SocketInfo struct {
	ID        string
	Handshake Handshake
	Rooms     []string
	Data      any
}

// Adapter keeps the rooms of one namespace and carries its broadcasts and
// requests. The in-memory [MemoryAdapter] serves one process; a cluster
// adapter wraps it and adds the other nodes. Every method is safe for
// concurrent use.
type Adapter interface {
	// AddAll puts socket id in rooms. Delivery: immediate, local.
	AddAll(id string, rooms []string)
	// Del takes socket id out of room.
	Del(id, room string)
	// DelAll takes socket id out of every room.
	DelAll(id string)
	// SocketRooms lists the rooms of a local socket.
	SocketRooms(id string) []string
	// Sockets lists the local sockets in any of rooms (every one if empty).
	Sockets(rooms []string) []string

	// Broadcast delivers p to the matching sockets: local ones at once, and
	// those of other nodes at most once unless opts.Flags.Local.
	Broadcast(p *Outgoing, opts *BroadcastOptions)
	// BroadcastWithAck is Broadcast where every reached socket answers:
	// clientCount is called once per node with the number of sockets it
	// reached, ack once per answer. p.Packet.ID is the ack id.
	BroadcastWithAck(p *Outgoing, opts *BroadcastOptions, clientCount func(int), ack func(Args))

	// FetchSockets lists the matching sockets of every node.
	FetchSockets(ctx context.Context, opts *BroadcastOptions) ([]SocketInfo, error)
	// AddSockets makes the matching sockets of every node join rooms.
	AddSockets(opts *BroadcastOptions, rooms []string)
	// DelSockets makes the matching sockets of every node leave rooms.
	DelSockets(opts *BroadcastOptions, rooms []string)
	// DisconnectSockets disconnects the matching sockets of every node;
	// close also closes their underlying connections.
	DisconnectSockets(opts *BroadcastOptions, close bool)
	// ServerSideEmit sends an event to the other nodes' namespace of the same
	// name. With ack nil it only sends (timeout and done do not apply).
	//
	// With ack non-nil it asks each other node for one answer, and the
	// adapter ends the request itself, within timeout (its own default
	// when timeout <= 0): it calls done once, before any ack, with the
	// number of nodes asked (0 when there are none, which ends the
	// request); then ack(answer, nil) for each answer as it comes. When the
	// request ends before every answer came, it calls ack(nil, err) once
	// and nothing after: at the timeout, err matches ErrAckTimeout
	// (errors.Is) and may be of the adapter's own type, saying which nodes
	// did not answer; when the adapter closes, err is its close error.
	// Calls to ack do not overlap. ack and done must not block nor call
	// the adapter.
	ServerSideEmit(event string, args []any, timeout time.Duration, ack func(Args, error), done func(int)) error
	// ServerCount is the number of nodes, this one included.
	ServerCount(ctx context.Context) (int, error)
	// AllRooms lists the rooms of every node, socket id rooms included.
	AllRooms(ctx context.Context) ([]string, error)
	// Close releases what the adapter holds.
	Close() error
}

// AdapterFactory makes the adapter of a namespace.
type AdapterFactory func(nsp *Namespace) Adapter

// MemoryAdapter is the adapter of a single process: rooms in memory, every
// broadcast delivered locally. Cluster adapters embed it for their local
// half.
//
// Every socket joins the room named after its id as it connects, so that
// membership is kept apart, as a mark on the socket's entry, rather than
// as a set of one per socket: a socket's own room costs no map. rooms
// holds every other membership, including that of a socket in a room named
// after another socket's id.
type MemoryAdapter struct {
	nsp   *Namespace
	mu    sync.RWMutex
	rooms map[string]map[string]struct{} // room -> socket ids, own rooms aside
	sids  map[string]socketRooms         // socket id -> its rooms
	// onRoom, when set, learns of each room created (its first socket
	// joined) and deleted (its last left); private is true for the room
	// named after a local socket.
	onRoom func(room string, private, created bool)
}

// socketRooms are a socket's rooms, in the order it joined them: rest, with
// the socket's own room at index own-1 when own > 0.
type socketRooms struct {
	rest []string // few: a slice is smaller than a set
	own  int
}

// list is every room of the socket id, in order.
func (r socketRooms) list(id string) []string {
	if r.own == 0 {
		return append([]string{}, r.rest...)
	}
	out := make([]string, 0, len(r.rest)+1)
	out = append(out, r.rest[:r.own-1]...)
	out = append(out, id)
	return append(out, r.rest[r.own-1:]...)
}

// OnRoomChange sets fn to learn of each room created (its first socket
// joined) and deleted (its last socket left); private is true for the room
// named after a local socket. fn runs with the adapter's lock held: it
// must not block nor call the adapter. Set it before the first socket
// joins.
func (a *MemoryAdapter) OnRoomChange(fn func(room string, private, created bool)) {
	a.mu.Lock()
	a.onRoom = fn
	a.mu.Unlock()
}

// NewMemoryAdapter is the AdapterFactory of the in-memory adapter.
func NewMemoryAdapter(nsp *Namespace) Adapter { return newMemoryAdapter(nsp) }

func newMemoryAdapter(nsp *Namespace) *MemoryAdapter {
	return &MemoryAdapter{
		nsp:   nsp,
		rooms: make(map[string]map[string]struct{}),
		sids:  make(map[string]socketRooms),
	}
}

// NewLocalAdapter returns the in-memory adapter of nsp, for cluster adapters
// to embed.
func NewLocalAdapter(nsp *Namespace) *MemoryAdapter { return newMemoryAdapter(nsp) }

// ownIn reports whether the socket whose id is room is in its own room.
func (a *MemoryAdapter) ownIn(room string) bool { return a.sids[room].own > 0 }

// in reports whether socket id is in room.
func (a *MemoryAdapter) in(id, room string) bool {
	if room == id && a.ownIn(id) {
		return true
	}
	_, ok := a.rooms[room][id]
	return ok
}

// empty reports whether room has no socket.
func (a *MemoryAdapter) empty(room string) bool { return len(a.rooms[room]) == 0 && !a.ownIn(room) }

// roomChanged tells onRoom of room, created by or deleted with socket id.
func (a *MemoryAdapter) roomChanged(id, room string, created bool) {
	if a.onRoom != nil {
		_, sid := a.sids[room]
		a.onRoom(room, sid || room == id, created)
	}
}

func (a *MemoryAdapter) AddAll(id string, rooms []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mine := a.sids[id]
	for _, r := range rooms {
		if r == id {
			if mine.own > 0 {
				continue
			}
			created := a.empty(r)
			mine.own = len(mine.rest) + 1
			if created {
				a.roomChanged(id, r, true)
			}
			continue
		}
		if slices.Contains(mine.rest, r) {
			continue
		}
		mine.rest = append(mine.rest, r)
		m := a.rooms[r]
		if m == nil {
			m = make(map[string]struct{}, 1)
			a.rooms[r] = m
			if !a.ownIn(r) {
				a.roomChanged(id, r, true)
			}
		}
		m[id] = struct{}{}
	}
	a.sids[id] = mine
}

func (a *MemoryAdapter) Del(id, room string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mine, ok := a.sids[id]
	if room == id {
		if mine.own > 0 {
			mine.own = 0
			a.sids[id] = mine
			if a.empty(room) {
				a.roomChanged(id, room, false)
			}
		}
		return
	}
	if ok {
		if i := slices.Index(mine.rest, room); i >= 0 {
			mine.rest = slices.Delete(mine.rest, i, i+1)
			if i < mine.own-1 {
				mine.own--
			}
			a.sids[id] = mine
		}
	}
	a.delFromRoom(id, room)
}

// delFromRoom takes socket id out of the set of room (never its own).
func (a *MemoryAdapter) delFromRoom(id, room string) {
	if m := a.rooms[room]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(a.rooms, room)
			if !a.ownIn(room) {
				a.roomChanged(id, room, false)
			}
		}
	}
}

func (a *MemoryAdapter) DelAll(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mine, ok := a.sids[id]
	if !ok {
		return
	}
	for i, r := range mine.rest {
		if i == mine.own-1 {
			a.delOwn(id, mine)
		}
		a.delFromRoom(id, r)
	}
	if mine.own == len(mine.rest)+1 {
		a.delOwn(id, mine)
	}
	delete(a.sids, id)
}

// delOwn takes socket id out of its own room, for DelAll.
func (a *MemoryAdapter) delOwn(id string, mine socketRooms) {
	mine.own = 0
	a.sids[id] = mine
	if len(a.rooms[id]) == 0 {
		a.roomChanged(id, id, false)
	}
}

func (a *MemoryAdapter) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	mine, ok := a.sids[id]
	if !ok {
		return nil
	}
	return mine.list(id)
}

func (a *MemoryAdapter) Sockets(rooms []string) []string {
	var out []string
	a.apply(&BroadcastOptions{Rooms: rooms}, func(s *Socket) { out = append(out, s.id) })
	return out
}

// Apply calls fn for each local socket matching opts. fn must not join or
// leave rooms: collect first when that is needed. A socket still being
// admitted (see Conn.admit) or already leaving is left out.
func (a *MemoryAdapter) Apply(opts *BroadcastOptions, fn func(*Socket)) { a.apply(opts, fn) }

func (a *MemoryAdapter) apply(opts *BroadcastOptions, fn func(*Socket)) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	except := func(id string) bool {
		for _, r := range opts.Except {
			if a.in(id, r) {
				return true
			}
		}
		return false
	}
	if len(opts.Rooms) == 0 {
		a.nsp.eachSocket(func(s *Socket) {
			if s.Connected() && !except(s.id) {
				fn(s)
			}
		})
		return
	}
	var seen map[string]struct{}
	if len(opts.Rooms) > 1 {
		seen = make(map[string]struct{})
	}
	visit := func(id string) {
		if seen != nil {
			if _, dup := seen[id]; dup {
				return
			}
			seen[id] = struct{}{}
		}
		if except(id) {
			return
		}
		if s := a.nsp.socket(id); s != nil && s.Connected() {
			fn(s)
		}
	}
	for _, r := range opts.Rooms {
		if a.ownIn(r) {
			visit(r)
		}
		for id := range a.rooms[r] {
			visit(id)
		}
	}
}

func (a *MemoryAdapter) Broadcast(p *Outgoing, opts *BroadcastOptions) {
	frames := p.Frames()
	a.apply(opts, func(s *Socket) {
		s.outgoing(p)
		s.conn.send(frames, opts.Flags.Volatile)
	})
}

func (a *MemoryAdapter) BroadcastWithAck(p *Outgoing, opts *BroadcastOptions, clientCount func(int), ack func(Args)) {
	frames := p.Frames()
	var targets []*Socket
	a.apply(opts, func(s *Socket) { targets = append(targets, s) })
	clientCount(len(targets))
	deadline := a.nsp.srv.deadline(opts.Flags.Timeout)
	for _, s := range targets {
		s.addAck(p.Packet.ID, deadline, func(args Args, err error) {
			if err == nil {
				ack(args)
			}
		})
		s.outgoing(p)
		s.conn.send(frames, opts.Flags.Volatile)
	}
}

func (a *MemoryAdapter) FetchSockets(ctx context.Context, opts *BroadcastOptions) ([]SocketInfo, error) {
	var out []SocketInfo
	var found []*Socket
	a.apply(opts, func(s *Socket) { found = append(found, s) })
	for _, s := range found {
		out = append(out, s.Info())
	}
	return out, nil
}

func (a *MemoryAdapter) AddSockets(opts *BroadcastOptions, rooms []string) {
	var found []*Socket
	a.apply(opts, func(s *Socket) { found = append(found, s) })
	for _, s := range found {
		s.Join(rooms...)
	}
}

func (a *MemoryAdapter) DelSockets(opts *BroadcastOptions, rooms []string) {
	var found []*Socket
	a.apply(opts, func(s *Socket) { found = append(found, s) })
	for _, s := range found {
		s.Leave(rooms...)
	}
}

func (a *MemoryAdapter) DisconnectSockets(opts *BroadcastOptions, close bool) {
	var found []*Socket
	a.apply(opts, func(s *Socket) { found = append(found, s) })
	for _, s := range found {
		s.Disconnect(close)
	}
}

func (a *MemoryAdapter) ServerSideEmit(event string, args []any, timeout time.Duration, ack func(Args, error), done func(int)) error {
	if done != nil {
		done(0)
	}
	return nil
}

func (a *MemoryAdapter) ServerCount(ctx context.Context) (int, error) { return 1, nil }

func (a *MemoryAdapter) AllRooms(ctx context.Context) ([]string, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]string, 0, len(a.rooms)+len(a.sids))
	for r := range a.rooms {
		out = append(out, r)
	}
	for id, mine := range a.sids {
		if _, listed := a.rooms[id]; mine.own > 0 && !listed {
			out = append(out, id)
		}
	}
	return out, nil
}

// HasRoom reports whether a local socket is in room.
func (a *MemoryAdapter) HasRoom(room string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return !a.empty(room)
}

// NextAckID hands out an ack id of the namespace, for a broadcast with
// acks that another node started (its id is the other node's).
func (a *MemoryAdapter) NextAckID() int64 { return a.nsp.ackIDs.Add(1) - 1 }

func (a *MemoryAdapter) Close() error { return nil }
