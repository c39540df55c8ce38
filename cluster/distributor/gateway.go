package distributor

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// GatewayOptions configure a Gateway.
type GatewayOptions struct {
	Common
	// Namespaces maps the namespaces served by backends to the service
	// that serves each.
	Namespaces map[string]string
	// Route decides for the namespaces not in Namespaces (dynamic ones):
	// the service that serves name, or ok false to serve it on this
	// server. It runs on a connection's reading goroutine: it must not
	// block.
	Route func(name string, hs *core.Handshake) (service string, ok bool)
	// ConnectWait bounds how long a connect waits for a replica of its
	// service when none is live but one may come soon: this gateway has
	// just (re)subscribed, or a replica of the service was live within
	// the last minute (a restart, Redis coming back). Past it the connect
	// is refused. Default 5s; a service never seen is refused at once.
	ConnectWait time.Duration
}

// recentlySeen is how long after its last replica went a service's
// connects wait for a new one (ConnectWait) rather than being refused.
const recentlySeen = time.Minute

// maxWaiting and maxWaitingBytes bound what a socket may send while its
// connect waits for a replica; past them the client's session is closed.
const (
	maxWaiting      = 256
	maxWaitingBytes = 1 << 20
)

// Gateway forwards chosen namespaces of a server to backends. Make one
// with NewGateway for the server that holds the client connections.
type Gateway struct {
	l    *link
	srv  *core.Server
	opts GatewayOptions

	nextRoute atomic.Uint64

	mu        sync.Mutex
	routes    map[uint64]*route
	byBackend map[string]map[uint64]*route
	waiting   map[string]map[uint64]*route // by service: routes with no replica yet
	lastLive  map[string]time.Time         // by service: when its last replica went
}

// route is one forwarded namespace of one client connection, served by
// one backend replica for its whole life.
type route struct {
	g       *Gateway
	id      uint64
	conn    *core.Conn
	nsp     string
	service string

	// Under g.mu:
	backend string // "" while the connect waits for a replica
	held    []item // the packets sent meanwhile
	heldN   int    // their bytes
	timer   *time.Timer
}

// NewGateway connects to Redis and installs itself as srv's forwarder: the
// connects to the namespaces it forwards go to a live replica of their
// service from then on. Close it before the server.
func NewGateway(srv *core.Server, opts GatewayOptions) (*Gateway, error) {
	if opts.ConnectWait <= 0 {
		opts.ConnectWait = 5 * time.Second
	}
	g := &Gateway{srv: srv, opts: opts, routes: make(map[uint64]*route), byBackend: make(map[string]map[uint64]*route),
		waiting: make(map[string]map[uint64]*route), lastLive: make(map[string]time.Time)}
	l, err := newLink(opts.Common, roleGateway, "", handlers{
		items:     g.onItems,
		peerGone:  g.backendGone,
		peerAlive: g.backendAlive,
	})
	if err != nil {
		return nil, err
	}
	g.l = l
	l.start()
	srv.SetForwarder(g)
	return g, nil
}

// ID is the gateway's node id on Redis.
func (g *Gateway) ID() string { return g.l.id }

// Stats returns the counters.
func (g *Gateway) Stats() Stats { return g.l.stats() }

// WaitReady waits until a live replica of each service is known, or ctx
// ends.
func (g *Gateway) WaitReady(ctx context.Context, services ...string) error {
	return g.l.wait(ctx, func() bool {
		if !g.l.subscribed {
			return false
		}
		for _, s := range services {
			found := false
			for _, p := range g.l.peers {
				if p.role == roleBackend && p.service == s {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
}

// Backends lists the node ids of the live replicas of service.
func (g *Gateway) Backends(service string) []string {
	var out []string
	for _, p := range g.l.livePeers(func(q *peer) bool { return q.role == roleBackend && q.service == service }) {
		out = append(out, p.id)
	}
	return out
}

// Close stops forwarding new connects and leaves Redis. The routes still
// open end with their connections: close the server after the gateway.
func (g *Gateway) Close() error {
	g.srv.SetForwarder(nil)
	g.l.close()
	g.mu.Lock()
	var waiting []*route
	for _, m := range g.waiting {
		for _, r := range m {
			waiting = append(waiting, r)
		}
	}
	g.mu.Unlock()
	for _, r := range waiting {
		g.refuse(r)
	}
	return nil
}

// service is the service that serves namespace name, if any.
func (g *Gateway) service(name string, hs *core.Handshake) (string, bool) {
	if s, ok := g.opts.Namespaces[name]; ok {
		return s, true
	}
	if g.opts.Route != nil {
		return g.opts.Route(name, hs)
	}
	return "", false
}

// errNoBackend refuses a connect when its service has no live replica.
func errNoBackend(service string) error {
	return &core.ConnectError{Message: "Namespace unavailable", Data: map[string]string{"reason": "no live backend", "service": service}}
}

// Open implements core.Forwarder: it picks the live replica of the
// namespace's service that serves the fewest of this gateway's sockets. With
// none, the connect waits for one (ConnectWait) when one may come soon, and
// is refused otherwise.
func (g *Gateway) Open(c *core.Conn, p *sio.Packet) (core.Route, error) {
	hs := c.Handshake()
	svc, ok := g.service(p.Namespace, hs)
	if !ok {
		return nil, nil
	}
	r := &route{g: g, id: g.nextRoute.Add(1), conn: c, nsp: p.Namespace, service: svc}
	replicas := g.replicas(svc)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(replicas) == 0 {
		if !g.mayComeLocked(svc) {
			return nil, errNoBackend(svc)
		}
		m := g.waiting[svc]
		if m == nil {
			m = make(map[uint64]*route)
			g.waiting[svc] = m
		}
		m[r.id] = r
		g.routes[r.id] = r
		r.timer = time.AfterFunc(g.opts.ConnectWait, func() { g.refuse(r) })
		return r, nil
	}
	g.assignLocked(r, replicas)
	return r, nil
}

func (g *Gateway) replicas(svc string) []*peer {
	return g.l.livePeers(func(q *peer) bool { return q.role == roleBackend && q.service == svc })
}

// mayComeLocked reports whether a replica of svc may appear soon: the
// gateway's own view is fresh, or the service had one a moment ago.
func (g *Gateway) mayComeLocked(svc string) bool {
	if t, ok := g.lastLive[svc]; ok && time.Since(t) < recentlySeen {
		return true
	}
	return g.l.freshView()
}

// assignLocked gives r to the least loaded of replicas.
func (g *Gateway) assignLocked(r *route, replicas []*peer) {
	best := replicas[0].id
	for _, q := range replicas[1:] {
		if len(g.byBackend[q.id]) < len(g.byBackend[best]) {
			best = q.id
		}
	}
	r.backend = best
	g.routes[r.id] = r
	m := g.byBackend[best]
	if m == nil {
		m = make(map[uint64]*route)
		g.byBackend[best] = m
	}
	m[r.id] = r
}

// backendAlive gives the connects waiting for a replica of the service to
// the replicas now live, and sends what their clients sent meanwhile.
func (g *Gateway) backendAlive(p *peer, _ bool) {
	if p.role != roleBackend {
		return
	}
	replicas := g.replicas(p.service)
	if len(replicas) == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, r := range g.waiting[p.service] {
		delete(g.waiting[p.service], id)
		r.timer.Stop()
		g.assignLocked(r, replicas)
		for _, it := range r.held {
			g.l.send(r.backend, it)
		}
		r.held, r.heldN = nil, 0
	}
	delete(g.waiting, p.service)
}

// refuse ends a connect that waited for a replica in vain.
func (g *Gateway) refuse(r *route) {
	g.mu.Lock()
	if g.waiting[r.service][r.id] == nil {
		g.mu.Unlock()
		return
	}
	delete(g.waiting[r.service], r.id)
	delete(g.routes, r.id)
	g.mu.Unlock()
	g.l.log.Warn("distributor: no replica came in time; connect refused", "service", r.service, "nsp", r.nsp)
	ce := errNoBackend(r.service).(*core.ConnectError)
	data, _ := json.Marshal(map[string]any{"message": ce.Message, "data": ce.Data})
	pkt := sio.Packet{Type: sio.ConnectError, Namespace: r.nsp, Data: data}
	_ = r.conn.Forwarded(r.nsp, r, sio.AppendFrames(nil, &pkt), false)
}

func (g *Gateway) forget(r *route) {
	g.mu.Lock()
	g.forgetLocked(r)
	g.mu.Unlock()
}

func (g *Gateway) forgetLocked(r *route) {
	delete(g.routes, r.id)
	if m := g.byBackend[r.backend]; m != nil {
		delete(m, r.id)
		if len(m) == 0 {
			delete(g.byBackend, r.backend)
		}
	}
	if m := g.waiting[r.service]; m != nil && m[r.id] != nil {
		delete(m, r.id)
		r.timer.Stop()
	}
}

// Packet implements core.Route: the packet goes to the route's replica, or
// waits with the route for one.
func (r *route) Packet(p *sio.Packet) {
	it := item{Op: opPacket, SID: r.conn.SID(), Nsp: p.Namespace, Type: uint8(p.Type), ID: p.ID, HasID: p.HasID, Data: clone(p.Data)}
	if len(p.Attachments) > 0 {
		it.Att = make([][]byte, len(p.Attachments))
		for i, a := range p.Attachments {
			it.Att[i] = clone(a)
		}
	}
	if p.Type == sio.Connect {
		it.Op = opConnect
		it.Route = r.id
		it.HS = toWireHandshake(r.conn.Handshake())
		it.Transport = uint8(r.conn.Transport())
	}
	g := r.g
	g.mu.Lock()
	ok := true
	switch {
	case r.backend != "":
		// Sent under the lock, so that a connect that waited keeps its
		// packets in order with those held for it.
		ok = g.l.send(r.backend, it)
	case g.waiting[r.service][r.id] == nil:
		// Refused meanwhile: the client has its connect_error.
	case len(r.held) >= maxWaiting || r.heldN+itemSize(&it) > maxWaitingBytes:
		ok = false
	default:
		r.held = append(r.held, it)
		r.heldN += itemSize(&it)
	}
	if p.Type == sio.Disconnect {
		g.forgetLocked(r)
	}
	g.mu.Unlock()
	if !ok {
		// The queue to Redis is full, or the client sends too much while
		// its connect waits: it cannot be served in order any more.
		r.conn.Close(eio.ReasonForcedClose)
	}
}

// Close implements core.Route: the client's session ended.
func (r *route) Close(reason string) {
	g := r.g
	g.mu.Lock()
	backend := r.backend
	g.forgetLocked(r)
	g.mu.Unlock()
	if backend != "" {
		g.l.send(backend, item{Op: opClose, SID: r.conn.SID(), Route: r.id, Reason: reasonCode(reason)})
	}
}

func itemSize(it *item) int {
	n := len(it.Data)
	for _, a := range it.Att {
		n += len(a)
	}
	return n
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// reasonCode is the eio.Reason of a disconnect reason's text.
func reasonCode(s string) uint8 {
	for r := eio.ReasonTransportClose; r <= eio.ReasonServerShuttingDown; r++ {
		if r.String() == s {
			return uint8(r)
		}
	}
	return uint8(eio.ReasonTransportClose)
}

// onItems applies what a backend sent: frames for sockets of this
// gateway, and sessions to close.
func (g *Gateway) onItems(from string, items []item) {
	for i := range items {
		it := &items[i]
		switch it.Op {
		case opFrames:
			frames := fromFrames(it.Frames)
			if len(frames) == 0 {
				continue
			}
			end := false
			if d := frames[0].Data; !frames[0].Binary && len(d) > 0 {
				t := sio.PacketType(d[0] - '0')
				end = t == sio.ConnectError || t == sio.Disconnect
			}
			for _, t := range it.Targets {
				g.mu.Lock()
				r := g.routes[t.Route]
				mine := r != nil && r.backend == from
				g.mu.Unlock()
				if !mine || r.conn.SID() != t.SID {
					continue
				}
				_ = r.conn.Forwarded(r.nsp, r, frames, it.Volatile)
				if end {
					g.forget(r)
				}
			}
		case opCloseSession:
			g.mu.Lock()
			r := g.routes[it.Route]
			mine := r != nil && r.backend == from
			g.mu.Unlock()
			if !mine || r.conn.SID() != it.SID {
				continue
			}
			reason := eio.Reason(it.Reason)
			if reason < eio.ReasonTransportClose || reason > eio.ReasonServerShuttingDown {
				reason = eio.ReasonForcedClose
			}
			r.conn.Close(reason)
		}
	}
}

// backendGone ends the routes of a replica that left or stopped answering:
// their clients' sessions close, so that the official client reconnects
// by itself and its connects go to the live replicas.
func (g *Gateway) backendGone(p *peer) {
	if p.role != roleBackend && p.role != 0 {
		return
	}
	g.mu.Lock()
	if p.service != "" && len(g.replicas(p.service)) == 0 {
		g.lastLive[p.service] = time.Now()
	}
	m := g.byBackend[p.id]
	delete(g.byBackend, p.id)
	rs := make([]*route, 0, len(m))
	for id, r := range m {
		delete(g.routes, id)
		rs = append(rs, r)
	}
	g.mu.Unlock()
	if len(rs) > 0 {
		g.l.log.Warn("distributor: backend gone; closing its clients' sessions so that they reconnect", "backend", p.id, "service", p.service, "sockets", len(rs))
	}
	for _, r := range rs {
		if r.conn.EndRoute(r.nsp, r) {
			r.conn.Close(eio.ReasonForcedClose)
		}
	}
}
