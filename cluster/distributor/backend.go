package distributor

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sio-go/sio/cluster"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// BackendOptions configure a Backend.
type BackendOptions struct {
	Common
	// Service is the name gateways know this backend by
	// (GatewayOptions.Namespaces). Replicas of one service share its
	// namespaces: each socket is served by one replica for its life.
	Service string
	// Server configures the backend's core server: namespace limits,
	// inbox bounds, logger. Go, Clock, Wake and Adapter are the backend's.
	Server core.Config
	// RequestTimeout bounds the requests between the replicas of the
	// service (FetchSockets, broadcast acknowledgements). Default 5s.
	RequestTimeout time.Duration
}

// Backend serves namespaces of clients connected to gateways. It embeds
// the core server whose Of, OfFunc and OfRegexp declare the namespaces,
// with the API of a local server.
type Backend struct {
	*core.Server
	l   *link
	bus *cluster.Bus

	handlers sync.WaitGroup

	tmu    sync.Mutex
	timer  *time.Timer
	closed bool

	mu    sync.Mutex
	conns map[connKey]*bconn
	empty map[connKey]bool // connections reported Empty, checked by the worker
}

type connKey struct{ gateway, sid string }

// bconn is a remote connection: one client session of one gateway.
type bconn struct {
	b   *Backend
	key connKey
	rc  *core.RemoteConn

	mu     sync.Mutex
	routes map[string]uint64 // namespace -> the gateway's route id
	timer  *time.Timer

	overflow int // packets delivered while the inbox was full (worker only)
}

// overflowFactor: a remote connection whose sockets' inboxes are full takes
// this many times Config.Inbox.Events more packets before it is closed.
// A local connection would stop reading instead; the gateway cannot be
// asked to, so the excess is bounded here.
const overflowFactor = 4

// NewBackend connects to Redis and starts serving: declare the namespaces
// on the returned Backend (before gateways send it connects, or they are
// refused as an unknown namespace would be).
func NewBackend(opts BackendOptions) (*Backend, error) {
	if opts.Service == "" {
		return nil, errors.New("distributor: BackendOptions.Service is required")
	}
	common := opts.Common.withDefaults()
	b := &Backend{conns: make(map[connKey]*bconn), empty: make(map[connKey]bool)}
	l, err := newLink(common, roleBackend, opts.Service, handlers{items: b.onItems, peerGone: b.gatewayGone, poked: b.dropEmpty})
	if err != nil {
		return nil, err
	}
	b.l = l
	// The replicas of a service share rooms and broadcasts through the
	// cluster bus, as the nodes of a cluster do.
	bus, err := cluster.New(cluster.Options{
		Client:         l.client,
		Prefix:         common.Prefix + "#svc#" + opts.Service,
		RequestTimeout: opts.RequestTimeout,
		Logger:         common.Logger,
	})
	if err != nil {
		if l.own {
			l.client.Close()
		}
		return nil, err
	}
	b.bus = bus
	cfg := opts.Server
	cfg.Go = b.spawn
	cfg.Clock = time.Now
	cfg.Wake = b.rearm
	cfg.Adapter = bus.Adapter
	if cfg.Logger == nil {
		cfg.Logger = common.Logger
	}
	b.Server = core.NewServer(cfg)
	b.tmu.Lock()
	b.timer = time.AfterFunc(time.Hour, b.tick)
	b.tmu.Unlock()
	l.start()
	return b, nil
}

// ID is the backend's node id on Redis.
func (b *Backend) ID() string { return b.l.id }

// Stats returns the counters.
func (b *Backend) Stats() Stats { return b.l.stats() }

// WaitReady waits until the backend's subscriptions are confirmed (and so
// until gateways can reach it), or ctx ends.
func (b *Backend) WaitReady(ctx context.Context) error {
	if err := b.l.wait(ctx, func() bool { return b.l.subscribed }); err != nil {
		return err
	}
	return b.bus.WaitSubscribed(ctx)
}

// Close leaves the service: it says goodbye first, so that the gateways
// hand its sockets over to the other replicas (or hold them for a replica
// to come, for GatewayOptions.ConnectWait), as when a replica dies but
// without the wait for its heartbeats; the clients see nothing, except the
// sockets whose clients wait for an answer from this replica, which are
// ended (see the package doc, Failures). Then its sockets here end
// (their disconnect handlers run; what they send, the gateways drop), it
// waits for the handlers until ctx ends, and leaves Redis.
func (b *Backend) Close(ctx context.Context) error {
	b.l.leave()
	b.Server.Close()
	b.tmu.Lock()
	b.closed = true
	b.timer.Stop()
	b.tmu.Unlock()
	done := make(chan struct{})
	go func() {
		b.handlers.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	b.mu.Lock()
	for _, c := range b.conns {
		c.stopTimer()
	}
	b.mu.Unlock()
	_ = b.bus.Close()
	b.l.close() // last: it closes the Redis client the bus shared
	return err
}

func (b *Backend) spawn(fn func()) {
	b.handlers.Add(1)
	go b.runHandlers(fn)
}

func (b *Backend) runHandlers(fn func()) {
	defer b.handlers.Done()
	fn()
}

// tick runs the server-wide timers (broadcast ack timeouts).
func (b *Backend) tick() {
	b.Server.HandleTimeout(time.Now())
	b.rearm()
}

func (b *Backend) rearm() {
	b.tmu.Lock()
	defer b.tmu.Unlock()
	if b.timer == nil || b.closed || b.Server == nil {
		return
	}
	t, ok := b.Server.Deadline()
	if !ok {
		b.timer.Stop()
		return
	}
	b.timer.Reset(max(time.Until(t), 0))
}

// onItems applies what gateways sent, in order, on the link's worker.
func (b *Backend) onItems(from string, items []item) {
	now := time.Now()
	for i := range items {
		it := &items[i]
		key := connKey{from, it.SID}
		b.mu.Lock()
		c := b.conns[key]
		b.mu.Unlock()
		switch it.Op {
		case opConnect:
			if c == nil {
				c = b.newConn(key, it)
				if c == nil {
					continue
				}
			}
			nsp := it.Nsp
			if nsp == "" {
				nsp = "/"
			}
			c.mu.Lock()
			c.routes[nsp] = it.Route
			c.mu.Unlock()
			p := &sio.Packet{Type: sio.Connect, Namespace: nsp, Data: it.Data}
			if it.Handover != "" {
				// The replica that served the socket is gone: it keeps its id.
				c.rc.HandleHandover(now, p, it.Handover)
			} else {
				c.rc.HandlePacket(now, p)
			}
		case opPacket:
			if c == nil {
				// An answer or event that crossed its socket's end (the
				// gateway knows, and drops this), or this backend took
				// the gateway as gone and dropped its sockets while the
				// gateway still heard it: the gateway hands the socket
				// over again.
				b.l.send(from, item{Op: opUnknown, SID: it.SID, Route: it.Route})
				continue
			}
			if c.rc.Conn().ReadPaused() == nil {
				c.overflow = 0
			} else if c.overflow++; c.overflow > overflowFactor*b.Server.Config().Inbox.Events {
				b.l.log.Warn("distributor: a client sends faster than its handlers run; its session is closed", "sid", c.key.sid)
				c.rc.Conn().Close(eio.ReasonForcedClose)
				continue
			}
			c.rc.HandlePacket(now, &sio.Packet{Type: sio.PacketType(it.Type), Namespace: it.Nsp, ID: it.ID, HasID: it.HasID, Data: it.Data, Attachments: it.Att})
		case opClose:
			if c == nil {
				continue
			}
			r := eio.Reason(it.Reason)
			if r < eio.ReasonTransportClose || r > eio.ReasonServerShuttingDown {
				r = eio.ReasonTransportClose
			}
			b.drop(c, r)
		}
	}
	b.dropEmpty()
}

func (b *Backend) newConn(key connKey, it *item) *bconn {
	c := &bconn{b: b, key: key, routes: make(map[string]uint64)}
	t := eio.Transport(it.Transport)
	rc, err := b.Server.NewRemoteConn(key.sid, t, it.HS.handshake(nil), c, c.wake)
	if err != nil {
		// The server is closing: the gateway closes the client's session.
		b.l.send(key.gateway, item{Op: opCloseSession, SID: key.sid, Route: it.Route, Reason: uint8(eio.ReasonServerShuttingDown)})
		return nil
	}
	c.rc = rc
	b.mu.Lock()
	b.conns[key] = c
	b.mu.Unlock()
	return c
}

// drop ends a connection without telling its gateway.
func (b *Backend) drop(c *bconn, r eio.Reason) {
	b.mu.Lock()
	if b.conns[c.key] == c {
		delete(b.conns, c.key)
	}
	delete(b.empty, c.key)
	b.mu.Unlock()
	c.stopTimer()
	c.rc.HandleClose(r)
}

// dropEmpty drops the connections whose last socket has gone.
func (b *Backend) dropEmpty() {
	b.mu.Lock()
	if len(b.empty) == 0 {
		b.mu.Unlock()
		return
	}
	var cs []*bconn
	for k := range b.empty {
		if c := b.conns[k]; c != nil {
			cs = append(cs, c)
		}
		delete(b.empty, k)
	}
	b.mu.Unlock()
	for _, c := range cs {
		if c.rc.Empty() {
			b.drop(c, eio.ReasonTransportClose)
		}
	}
}

// gatewayGone ends the sockets of a gateway that left or stopped
// answering, with reason "transport close", as their clients' transports
// are gone.
func (b *Backend) gatewayGone(p *peer) {
	if p.role == roleBackend {
		return
	}
	b.mu.Lock()
	var cs []*bconn
	for k, c := range b.conns {
		if k.gateway == p.id {
			cs = append(cs, c)
		}
	}
	b.mu.Unlock()
	if len(cs) > 0 {
		b.l.log.Warn("distributor: gateway gone; its sockets disconnect", "gateway", p.id, "connections", len(cs))
	}
	for _, c := range cs {
		b.drop(c, eio.ReasonTransportClose)
	}
}

// Send implements core.RemoteLink: the frames go to the client's gateway,
// coalesced there with the other sockets' copies of a broadcast.
func (c *bconn) Send(frames []eio.Packet, volatile bool) error {
	if len(frames) == 0 {
		return nil
	}
	nsp := nspOf(frames[0].Data)
	c.mu.Lock()
	route, ok := c.routes[nsp]
	c.mu.Unlock()
	if !ok {
		return core.ErrDisconnected
	}
	if !c.b.l.send(c.key.gateway, item{Op: opFrames, Targets: []target{{SID: c.key.sid, Route: route}}, Frames: toFrames(frames), Volatile: volatile}) {
		return eio.ErrQueueFull
	}
	return nil
}

// Close implements core.RemoteLink: the gateway closes the client's
// session.
func (c *bconn) Close(r eio.Reason) {
	c.mu.Lock()
	var route uint64
	for _, id := range c.routes {
		route = id
		break
	}
	c.mu.Unlock()
	c.b.l.send(c.key.gateway, item{Op: opCloseSession, SID: c.key.sid, Route: route, Reason: uint8(r)})
	c.b.mu.Lock()
	if c.b.conns[c.key] == c {
		delete(c.b.conns, c.key)
	}
	c.b.mu.Unlock()
	c.stopTimer()
}

// Empty implements core.RemoteLink: the worker drops the connection if it
// is still empty when it next looks.
func (c *bconn) Empty() {
	c.b.mu.Lock()
	c.b.empty[c.key] = true
	c.b.mu.Unlock()
	c.b.l.poke()
}

// wake re-arms the connection's timer when an acknowledgement with a
// timeout moved its deadline.
func (c *bconn) wake() {
	if c.rc == nil || !c.rc.DeadlineMoved() {
		return
	}
	c.arm()
}

func (c *bconn) arm() {
	d, ok := c.rc.Deadline()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ok {
		if c.timer != nil {
			c.timer.Stop()
		}
		return
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(max(time.Until(d), 0), c.fire)
		return
	}
	c.timer.Reset(max(time.Until(d), 0))
}

func (c *bconn) fire() {
	if c.rc.Closed() {
		return
	}
	c.rc.HandleTimeout(time.Now())
	c.arm()
}

func (c *bconn) stopTimer() {
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
}
