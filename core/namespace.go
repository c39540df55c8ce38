package core

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Middleware runs before a socket joins a namespace. Returning an error
// refuses the connection: a *ConnectError carries its message and data to
// the client, any other error its text as the message.
type Middleware func(s *Socket) error

// Namespace is a communication channel: its sockets, its rooms (kept by its
// adapter), its middlewares and handlers.
type Namespace struct {
	srv     *Server
	name    string
	parent  *ParentNamespace
	adapter Adapter
	ackIDs  atomic.Int64

	mu          sync.RWMutex
	sockets     map[string]*Socket
	middlewares []Middleware
	onConn      []func(*Socket)
	onServer    map[string][]ServerSideHandler
}

// ServerSideHandler handles an event another node sent with ServerSideEmit.
// ack is nil when the sender asked for none.
type ServerSideHandler func(args Args, ack func(args ...any) error)

func newNamespace(s *Server, name string, parent *ParentNamespace) *Namespace {
	n := &Namespace{srv: s, name: name, parent: parent, sockets: make(map[string]*Socket)}
	n.adapter = s.cfg.Adapter(n)
	return n
}

// Name is the namespace's name, such as "/" or "/chat".
func (n *Namespace) Name() string { return n.name }

// Server is the server the namespace belongs to.
func (n *Namespace) Server() *Server { return n.srv }

// Adapter is the namespace's adapter.
func (n *Namespace) Adapter() Adapter { return n.adapter }

// Use adds a middleware.
func (n *Namespace) Use(m Middleware) *Namespace {
	n.mu.Lock()
	n.middlewares = append(n.middlewares, m)
	n.mu.Unlock()
	return n
}

// OnConnection adds a handler called for each socket that connects. On a
// backend of package cluster/distributor it also runs for a socket handed
// over from a replica that died (Socket.HandedOver reports it): the client
// kept its connection and socket id, but the rooms it had joined there are
// lost, so the handler joins them again as on a first connect.
func (n *Namespace) OnConnection(h func(*Socket)) *Namespace {
	n.mu.Lock()
	n.onConn = append(n.onConn, h)
	n.mu.Unlock()
	return n
}

// OnServerSideEmit adds a handler for events that other nodes send with
// ServerSideEmit.
func (n *Namespace) OnServerSideEmit(event string, h ServerSideHandler) *Namespace {
	n.mu.Lock()
	if n.onServer == nil {
		n.onServer = make(map[string][]ServerSideHandler)
	}
	n.onServer[event] = append(n.onServer[event], h)
	n.mu.Unlock()
	return n
}

// HandleServerSideEmit runs the handlers of a server-side event that came
// from another node. Cluster adapters call it.
func (n *Namespace) HandleServerSideEmit(event string, args Args, ack func(args ...any) error) {
	n.mu.RLock()
	hs := n.onServer[event]
	n.mu.RUnlock()
	for _, h := range hs {
		h(args, ack)
	}
}

func (n *Namespace) socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// Socket returns the local socket with id, or nil.
func (n *Namespace) Socket(id string) *Socket { return n.socket(id) }

func (n *Namespace) eachSocket(fn func(*Socket)) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, s := range n.sockets {
		fn(s)
	}
}

// SocketCount is the number of local sockets connected to the namespace.
func (n *Namespace) SocketCount() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

func (n *Namespace) handlers() ([]Middleware, []func(*Socket)) {
	n.mu.RLock()
	mw, oc := n.middlewares, n.onConn
	n.mu.RUnlock()
	if n.parent != nil {
		pmw, poc := n.parent.handlers()
		mw = slices.Concat(pmw, mw)
		oc = slices.Concat(poc, oc)
	}
	return mw, oc
}

func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets[s.id] = s
	n.mu.Unlock()
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	delete(n.sockets, s.id)
	n.mu.Unlock()
}

func (n *Namespace) operator() *BroadcastOperator {
	return &BroadcastOperator{targets: []*Namespace{n}}
}

// To selects the sockets in room (broadcast).
func (n *Namespace) To(rooms ...string) *BroadcastOperator { return n.operator().To(rooms...) }

// In is To.
func (n *Namespace) In(rooms ...string) *BroadcastOperator { return n.To(rooms...) }

// Except leaves out the sockets in rooms.
func (n *Namespace) Except(rooms ...string) *BroadcastOperator {
	return n.operator().Except(rooms...)
}

// Volatile marks the broadcast as droppable.
func (n *Namespace) Volatile() *BroadcastOperator { return n.operator().Volatile() }

// Local keeps the broadcast on this node.
func (n *Namespace) Local() *BroadcastOperator { return n.operator().Local() }

// Timeout sets the ack timeout of a broadcast.
func (n *Namespace) Timeout(d time.Duration) *BroadcastOperator { return n.operator().Timeout(d) }

// Compress sets the compression flag of a broadcast.
func (n *Namespace) Compress(c bool) *BroadcastOperator { return n.operator().Compress(c) }

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error { return n.operator().Emit(event, args...) }

// EmitAck sends an event to every socket and collects their answers; see
// BroadcastOperator.EmitAck.
func (n *Namespace) EmitAck(event string, ack BroadcastAckFunc, args ...any) error {
	return n.operator().EmitAck(event, ack, args...)
}

// FetchSockets lists the sockets of the namespace on every node, as
// sockets that can be acted on wherever they are.
func (n *Namespace) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return n.operator().FetchSockets(ctx)
}

// SocketsJoin makes every socket of the namespace join rooms.
func (n *Namespace) SocketsJoin(rooms ...string) { n.operator().SocketsJoin(rooms...) }

// SocketsLeave makes every socket of the namespace leave rooms.
func (n *Namespace) SocketsLeave(rooms ...string) { n.operator().SocketsLeave(rooms...) }

// DisconnectSockets disconnects every socket of the namespace.
func (n *Namespace) DisconnectSockets(close bool) { n.operator().DisconnectSockets(close) }

// ServerSideEmitWithAck sends an event to the same namespace on the other
// nodes and waits for each node's answer, for at most timeout; see
// BroadcastOperator.ServerSideEmitWithAck.
func (n *Namespace) ServerSideEmitWithAck(ctx context.Context, timeout time.Duration, event string, args ...any) ([]Args, error) {
	return n.operator().Timeout(timeout).ServerSideEmitWithAck(ctx, event, args...)
}

// ServerSideEmit sends an event to the same namespace on the other nodes.
func (n *Namespace) ServerSideEmit(event string, args ...any) error {
	if reservedServerSide(event) {
		return reservedError(event)
	}
	return n.adapter.ServerSideEmit(event, args, 0, nil, nil)
}

// ParentNamespace is a family of dynamic namespaces. Its middlewares and
// connection handlers apply to every child; its broadcasts reach them all.
type ParentNamespace struct {
	srv   *Server
	match func(string, *Handshake) bool

	mu          sync.RWMutex
	children    map[string]*Namespace
	middlewares []Middleware
	onConn      []func(*Socket)
}

// Use adds a middleware run for every child.
func (p *ParentNamespace) Use(m Middleware) *ParentNamespace {
	p.mu.Lock()
	p.middlewares = append(p.middlewares, m)
	p.mu.Unlock()
	return p
}

// OnConnection adds a connection handler run for every child.
func (p *ParentNamespace) OnConnection(h func(*Socket)) *ParentNamespace {
	p.mu.Lock()
	p.onConn = append(p.onConn, h)
	p.mu.Unlock()
	return p
}

func (p *ParentNamespace) handlers() ([]Middleware, []func(*Socket)) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.middlewares, p.onConn
}

// Children lists the child namespaces created so far.
func (p *ParentNamespace) Children() []*Namespace {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]*Namespace, 0, len(p.children))
	for _, c := range p.children {
		out = append(out, c)
	}
	return out
}

func (p *ParentNamespace) child(name string) *Namespace {
	s := p.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nsps[name]; n != nil {
		return n
	}
	n := newNamespace(s, name, p)
	s.nsps[name] = n
	p.mu.Lock()
	p.children[name] = n
	p.mu.Unlock()
	return n
}

func (p *ParentNamespace) operator() *BroadcastOperator {
	return &BroadcastOperator{targets: p.Children()}
}

// To selects the sockets in rooms of every child.
func (p *ParentNamespace) To(rooms ...string) *BroadcastOperator { return p.operator().To(rooms...) }

// Emit sends an event to every socket of every child.
func (p *ParentNamespace) Emit(event string, args ...any) error {
	return p.operator().Emit(event, args...)
}
