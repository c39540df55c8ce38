package core

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/sio-go/sio/core/sio"
)

// BroadcastOperator selects sockets of one or more namespaces and emits to
// them. Every method returns a new operator; an operator can be kept and
// reused.
type BroadcastOperator struct {
	targets []*Namespace
	opts    BroadcastOptions
}

func (b *BroadcastOperator) clone() *BroadcastOperator {
	c := *b
	c.opts.Rooms = slices.Clip(c.opts.Rooms)
	c.opts.Except = slices.Clip(c.opts.Except)
	return &c
}

// To adds rooms to the selection.
func (b *BroadcastOperator) To(rooms ...string) *BroadcastOperator {
	c := b.clone()
	for _, r := range rooms {
		if !slices.Contains(c.opts.Rooms, r) {
			c.opts.Rooms = append(c.opts.Rooms, r)
		}
	}
	return c
}

// In is To.
func (b *BroadcastOperator) In(rooms ...string) *BroadcastOperator { return b.To(rooms...) }

// Except leaves out the sockets in rooms.
func (b *BroadcastOperator) Except(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.opts.Except = append(c.opts.Except, rooms...)
	return c
}

// Volatile lets the event be dropped for clients whose queue is full.
func (b *BroadcastOperator) Volatile() *BroadcastOperator {
	c := b.clone()
	c.opts.Flags.Volatile = true
	return c
}

// Local keeps the broadcast on this node.
func (b *BroadcastOperator) Local() *BroadcastOperator {
	c := b.clone()
	c.opts.Flags.Local = true
	return c
}

// Compress sets the compression flag.
func (b *BroadcastOperator) Compress(on bool) *BroadcastOperator {
	c := b.clone()
	c.opts.Flags.NoCompress = !on
	return c
}

// Timeout bounds the wait for acknowledgements.
func (b *BroadcastOperator) Timeout(d time.Duration) *BroadcastOperator {
	c := b.clone()
	c.opts.Flags.Timeout = d
	return c
}

// Options returns the selection and flags of the operator.
func (b *BroadcastOperator) Options() BroadcastOptions { return b.opts }

// Emit sends an event to the selected sockets, encoded once per namespace.
func (b *BroadcastOperator) Emit(event string, args ...any) error {
	if reserved(event) {
		return reservedError(event)
	}
	for _, n := range b.targets {
		p, err := sio.NewEvent(n.name, event, args)
		if err != nil {
			return err
		}
		opts := b.opts
		n.adapter.Broadcast(&Outgoing{Packet: p}, &opts)
	}
	return nil
}

// BroadcastAckFunc receives the answers of a broadcast with ack: every
// answer when all came in, or ErrAckTimeout with those that did.
type BroadcastAckFunc func(responses []Args, err error)

// EmitAck sends an event to the selected sockets and collects one answer
// from each. ack runs once, on a goroutine of the adapter's (Config.Go):
// when every socket reached has answered, or at the timeout with the
// answers so far and ErrAckTimeout. Without a Timeout it waits for every
// answer, however long.
func (b *BroadcastOperator) EmitAck(event string, ack BroadcastAckFunc, args ...any) error {
	if reserved(event) {
		return reservedError(event)
	}
	if len(b.targets) == 0 {
		ack(nil, nil)
		return nil
	}
	// serversLeft starts at 1 so that no answer completes the collection
	// before every namespace has been asked; the last line releases it.
	srv := b.targets[0].srv
	col := &ackCollector{srv: srv, cb: ack, serversLeft: 1}
	col.mu.Lock()
	col.cancel = srv.after(srv.deadline(b.opts.Flags.Timeout), col.timeout)
	col.mu.Unlock()
	for _, n := range b.targets {
		servers := 1
		if !b.opts.Flags.Local {
			if c, err := n.adapter.ServerCount(context.Background()); err == nil && c > 0 {
				servers = c
			}
		}
		col.expectServers(servers)
		id := n.ackIDs.Add(1) - 1
		p, err := sio.NewEvent(n.name, event, args)
		p.ID, p.HasID = id, true
		if err != nil {
			col.finish(nil, err)
			return err
		}
		opts := b.opts
		n.adapter.BroadcastWithAck(&Outgoing{Packet: p}, &opts, col.count, col.answer)
	}
	col.expectServers(-1)
	return nil
}

// EmitWithAck is EmitAck that waits for the answers, the timeout, or the
// end of ctx. It may be called from a handler.
func (b *BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	type result struct {
		r   []Args
		err error
	}
	ch := make(chan result, 1)
	if err := b.EmitAck(event, func(r []Args, err error) { ch <- result{r, err} }, args...); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.r, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ackCollector gathers the answers of a broadcast with ack. Each node
// reports how many sockets it reached (count); the collection is complete
// when every node has and every socket answered.
type ackCollector struct {
	srv         *Server
	mu          sync.Mutex
	cb          BroadcastAckFunc
	cancel      func()
	serversLeft int // node reports still awaited
	expected    int
	responses   []Args
	done        bool
}

func (c *ackCollector) count(n int) {
	c.mu.Lock()
	c.serversLeft--
	c.expected += n
	c.mu.Unlock()
	c.check()
}

// expectServers adds the reports of n more nodes to wait for.
func (c *ackCollector) expectServers(n int) {
	c.mu.Lock()
	c.serversLeft += n
	c.mu.Unlock()
	c.check()
}

func (c *ackCollector) answer(a Args) {
	c.mu.Lock()
	if !c.done {
		c.responses = append(c.responses, a)
	}
	c.mu.Unlock()
	c.check()
}

func (c *ackCollector) check() {
	c.mu.Lock()
	complete := !c.done && c.serversLeft <= 0 && len(c.responses) >= c.expected
	c.mu.Unlock()
	if complete {
		c.finish(nil, nil)
	}
}

func (c *ackCollector) timeout() { c.finish(nil, ErrAckTimeout) }

func (c *ackCollector) finish(_ []Args, err error) {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done = true
	r := c.responses
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	// The last answer arrives on a connection's reader, the timeout on a
	// timer: the application's callback runs on a goroutine of its own.
	c.srv.run(func() { c.cb(r, err) })
}

func (b *BroadcastOperator) each(fn func(n *Namespace, opts *BroadcastOptions)) {
	for _, n := range b.targets {
		opts := b.opts
		fn(n, &opts)
	}
}

// FetchSockets lists the selected sockets on every node. With a cluster
// adapter, a node that does not answer in time makes it return the sockets
// found so far with the adapter's error.
func (b *BroadcastOperator) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	var out []*RemoteSocket
	for _, n := range b.targets {
		opts := b.opts
		r, err := n.adapter.FetchSockets(ctx, &opts)
		for _, info := range r {
			out = append(out, newRemoteSocket(n, info))
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// ServerSideEmit sends an event to the same namespaces on the other nodes
// (see Namespace.ServerSideEmit); rooms and flags do not apply.
func (b *BroadcastOperator) ServerSideEmit(event string, args ...any) error {
	for _, n := range b.targets {
		if err := n.ServerSideEmit(event, args...); err != nil {
			return err
		}
	}
	return nil
}

// ServerSideEmitWithAck sends an event to the same namespace on the other
// nodes and waits for one answer per node: every answer; or, at the
// operator's Timeout (required), those that came with an error matching
// ErrAckTimeout, which a cluster adapter may give a type of its own that
// names the nodes that did not answer (errors.As); or the end of ctx. It
// may be called from a handler.
func (b *BroadcastOperator) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	if reservedServerSide(event) {
		return nil, reservedError(event)
	}
	if b.opts.Flags.Timeout <= 0 {
		return nil, ErrNoTimeout
	}
	if len(b.targets) != 1 {
		return nil, errOneNamespace
	}
	n := b.targets[0]
	srv := n.srv
	type result struct {
		r   []Args
		err error
	}
	ch := make(chan result, 1)
	// The adapter keeps the timeout: it knows which nodes did not answer.
	col := &ackCollector{srv: srv, serversLeft: 1, cb: func(r []Args, err error) { ch <- result{r, err} }}
	ack := func(a Args, err error) {
		if err != nil {
			col.finish(nil, err)
			return
		}
		col.answer(a)
	}
	err := n.adapter.ServerSideEmit(event, args, b.opts.Flags.Timeout, ack, func(nodes int) {
		col.mu.Lock()
		col.expected += nodes
		col.mu.Unlock()
		col.expectServers(-1)
	})
	if err != nil {
		col.finish(nil, err)
	}
	select {
	case r := <-ch:
		return r.r, r.err
	case <-ctx.Done():
		col.finish(nil, ctx.Err())
		return nil, ctx.Err()
	}
}

// SocketsJoin makes the selected sockets join rooms.
func (b *BroadcastOperator) SocketsJoin(rooms ...string) {
	b.each(func(n *Namespace, o *BroadcastOptions) { n.adapter.AddSockets(o, rooms) })
}

// SocketsLeave makes the selected sockets leave rooms.
func (b *BroadcastOperator) SocketsLeave(rooms ...string) {
	b.each(func(n *Namespace, o *BroadcastOptions) { n.adapter.DelSockets(o, rooms) })
}

// DisconnectSockets disconnects the selected sockets; close also closes
// their connections.
func (b *BroadcastOperator) DisconnectSockets(close bool) {
	b.each(func(n *Namespace, o *BroadcastOptions) { n.adapter.DisconnectSockets(o, close) })
}

// event returns the name and arguments of an event packet, for the
// OnAnyOutgoing listeners; ok is false for anything else.
func (o *Outgoing) event() (name string, args []any, ok bool) {
	raw, err := sio.SplitArgs(&o.Packet)
	if err != nil || len(raw) == 0 {
		return "", nil, false
	}
	args = make([]any, len(raw)-1)
	for i := range raw[1:] {
		args[i] = raw[i+1]
	}
	return eventName(raw[0].JSON), args, true
}
