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
	// ConnectTimeout bounds how long a connect forwarded to a replica
	// waits for its answer (the namespace's middlewares run there, and
	// may block). Past it the replica is told that the client left, and
	// the client gets connect_error "Namespace unavailable" with data
	// {reason: "no answer from backend", service}; a handover not
	// answered in time ends the client's socket as a refused one does.
	// Default 10s.
	ConnectTimeout time.Duration
}

// recentlySeen is how long after its last replica went a service's
// connects wait for a new one (ConnectWait) rather than being refused.
const recentlySeen = time.Minute

// maxWaiting and maxWaitingBytes bound what a socket may send while its
// connect waits for a replica, or its handover for the new replica's
// answer; past them a waiting connect closes the client's session, and a
// handover ends the client's socket.
const (
	maxWaiting      = 256
	maxWaitingBytes = 1 << 20
)

// maxTracked bounds the acknowledgement ids a route keeps each way. A
// route with more of the client's events unanswered is taken as having
// some pending for good (it is not handed over).
const maxTracked = 1024

// Gateway forwards chosen namespaces of a server to backends. Make one
// with NewGateway for the server that holds the client connections.
type Gateway struct {
	l    *link
	srv  *core.Server
	opts GatewayOptions

	nextRoute        atomic.Uint64
	handovers, ended atomic.Uint64

	mu        sync.Mutex
	routes    map[uint64]*route
	byBackend map[string]map[uint64]*route
	waiting   map[string]map[uint64]*route // by service: routes with no replica yet
	lastLive  map[string]time.Time         // by service: when its last replica went
}

// route is one forwarded namespace of one client connection. One replica
// serves it at a time, so its packets stay in order; when that replica
// dies, the route is handed over to another (see backendGone).
type route struct {
	g       *Gateway
	id      uint64
	conn    *core.Conn
	nsp     string
	service string
	auth    []byte // the CONNECT's auth payload, given again on a handover

	// Under g.mu:
	backend string      // the replica serving the route, or asked to; "" while it waits for one
	sid     string      // the socket's id, once a replica accepted it
	handing bool        // a handover's connect is at backend: packets are held until it answers
	closing bool        // the replica closed the client's session: never handed over
	held    []item      // the packets held while the route waits or is handed over
	heldN   int         // their bytes
	timer   *time.Timer // the wait for a replica, or for the connect's answer
	gen     uint64      // bumped when the timer changes, so that an old one does nothing

	pending   map[int64]struct{} // the client's events with an ack at backend, unanswered
	untracked bool               // more than maxTracked pending: taken as pending for good
	asked     map[int64]struct{} // the backend's events with an ack the client has not answered
	stale     map[int64]struct{} // asked by a replica that died: the client's answers go nowhere
	alias     map[int64]int64    // ids the client was given for the replica's that were stale, to theirs
	nextAlias int64
}

// aliasBase is the first ack id a gateway gives a client in place of the
// replica's (see onItems): far above any a server's counter reaches, and
// within what the protocol allows.
const aliasBase = 1 << 52

// NewGateway connects to Redis and installs itself as srv's forwarder: the
// connects to the namespaces it forwards go to a live replica of their
// service from then on. Close it before the server.
func NewGateway(srv *core.Server, opts GatewayOptions) (*Gateway, error) {
	if opts.ConnectWait <= 0 {
		opts.ConnectWait = 5 * time.Second
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
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
func (g *Gateway) Stats() Stats {
	s := g.l.stats()
	s.Handovers, s.EndedSockets = g.handovers.Load(), g.ended.Load()
	return s
}

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

// Close stops forwarding new connects and leaves Redis. The connects
// still waiting for a replica are refused; the routes open end with their
// connections: close the server after the gateway.
func (g *Gateway) Close() error {
	g.srv.SetForwarder(nil)
	g.l.close()
	g.mu.Lock()
	var waiting []*route
	for _, r := range g.routes {
		if g.waiting[r.service][r.id] != nil {
			waiting = append(waiting, r)
			g.forgetLocked(r)
		}
		g.disarmLocked(r)
	}
	g.mu.Unlock()
	for _, r := range waiting {
		g.endWaiting(r, true)
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

// Open implements core.Forwarder: the route's CONNECT (Packet) goes to
// the live replica of the namespace's service that serves the fewest of
// this gateway's sockets. With none, the connect waits for one
// (ConnectWait) when one may come soon, and is refused otherwise.
func (g *Gateway) Open(c *core.Conn, p *sio.Packet) (core.Route, error) {
	svc, ok := g.service(p.Namespace, c.Handshake())
	if !ok {
		return nil, nil
	}
	if len(g.replicas(svc)) == 0 {
		g.mu.Lock()
		may := g.mayComeLocked(svc)
		g.mu.Unlock()
		if !may {
			return nil, errNoBackend(svc)
		}
	}
	return &route{g: g, id: g.nextRoute.Add(1), conn: c, nsp: p.Namespace, service: svc, auth: clone(p.Data)}, nil
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

// placeLocked gives r, which has no replica, to the least loaded live
// replica of its service and sends it r's connect: a handover's, once a
// replica had accepted the socket, with the packets held until it answers;
// else the client's connect, followed by what was held. With no live
// replica, r waits for one for ConnectWait. It reports false when the
// queue to Redis is full.
func (g *Gateway) placeLocked(r *route) bool {
	replicas := g.replicas(r.service)
	if len(replicas) == 0 {
		m := g.waiting[r.service]
		if m == nil {
			m = make(map[uint64]*route)
			g.waiting[r.service] = m
		}
		m[r.id] = r
		g.armLocked(r, g.opts.ConnectWait, g.waitOver)
		return true
	}
	best := replicas[0].id
	for _, q := range replicas[1:] {
		if len(g.byBackend[q.id]) < len(g.byBackend[best]) {
			best = q.id
		}
	}
	r.backend = best
	m := g.byBackend[best]
	if m == nil {
		m = make(map[uint64]*route)
		g.byBackend[best] = m
	}
	m[r.id] = r
	it := item{Op: opConnect, SID: r.conn.SID(), Route: r.id, Nsp: r.nsp, Data: r.auth,
		HS: toWireHandshake(r.conn.Handshake()), Transport: uint8(r.conn.Transport()), Handover: r.sid}
	r.handing = r.sid != ""
	if !g.sendLocked(r, &it) {
		return false
	}
	if !r.handing {
		return g.flushLocked(r)
	}
	return true
}

// flushLocked sends what r held to its replica, in order.
func (g *Gateway) flushLocked(r *route) bool {
	ok := true
	for i := range r.held {
		ok = ok && g.sendLocked(r, &r.held[i])
	}
	r.held, r.heldN = nil, 0
	return ok
}

// sendLocked sends it to r's replica: a connect arms the wait for its
// answer; an event with an ack is noted as pending there.
func (g *Gateway) sendLocked(r *route, it *item) bool {
	switch {
	case it.Op == opConnect:
		g.armLocked(r, g.opts.ConnectTimeout, g.unanswered)
	case it.HasID && (it.Type == uint8(sio.Event) || it.Type == uint8(sio.BinaryEvent)):
		r.pending = track(r.pending, it.ID, &r.untracked)
	}
	return g.l.send(r.backend, *it)
}

// track adds id to set, unless it holds maxTracked ids already (then
// *over is set, when over is not nil).
func track(set map[int64]struct{}, id int64, over *bool) map[int64]struct{} {
	if len(set) >= maxTracked {
		if over != nil {
			*over = true
		}
		return set
	}
	if set == nil {
		set = make(map[int64]struct{})
	}
	set[id] = struct{}{}
	return set
}

func (g *Gateway) armLocked(r *route, d time.Duration, fire func(r *route, gen uint64)) {
	g.disarmLocked(r)
	gen := r.gen
	r.timer = time.AfterFunc(d, func() { fire(r, gen) })
}

func (g *Gateway) disarmLocked(r *route) {
	r.gen++
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

// backendAlive gives the routes waiting for a replica of the service to
// the replicas now live.
func (g *Gateway) backendAlive(p *peer, _ bool) {
	if p.role != roleBackend {
		return
	}
	var full []*route
	g.mu.Lock()
	for id, r := range g.waiting[p.service] {
		delete(g.waiting[p.service], id)
		if !g.placeLocked(r) {
			full = append(full, r)
		}
	}
	delete(g.waiting, p.service)
	g.mu.Unlock()
	for _, r := range full {
		r.conn.Close(eio.ReasonForcedClose)
	}
}

// waitOver ends a route that waited for a replica in vain.
func (g *Gateway) waitOver(r *route, gen uint64) {
	g.mu.Lock()
	if r.gen != gen || g.waiting[r.service][r.id] == nil {
		g.mu.Unlock()
		return
	}
	g.forgetLocked(r)
	g.mu.Unlock()
	g.endWaiting(r, false)
}

// endWaiting tells the client of a forgotten route that waited for a
// replica: a connect gets its connect_error. A socket that was to be
// handed over has its client's session closed instead, so that the
// official client reconnects by itself (a connect_error cannot end a
// socket that is connected; a DISCONNECT would, but the client would not
// connect it again by itself): its connect then waits for a replica once
// more, and is refused with the reason if none comes.
func (g *Gateway) endWaiting(r *route, closing bool) {
	g.mu.Lock()
	handover := r.sid != ""
	g.mu.Unlock()
	if handover {
		g.ended.Add(1)
		if !closing {
			g.l.log.Warn("distributor: no replica came in time to take a socket over; its client's session is closed so that it reconnects",
				"service", r.service, "nsp", r.nsp, "sid", r.sid)
		}
		r.conn.Close(eio.ReasonForcedClose)
		return
	}
	if !closing {
		g.l.log.Warn("distributor: no replica came in time; connect refused", "service", r.service, "nsp", r.nsp)
	}
	g.connectError(r, errNoBackend(r.service).(*core.ConnectError))
}

// unanswered ends a route whose replica did not answer its connect in
// ConnectTimeout: the replica is told that the client left.
func (g *Gateway) unanswered(r *route, gen uint64) {
	g.mu.Lock()
	if r.gen != gen || g.routes[r.id] != r || r.backend == "" {
		g.mu.Unlock()
		return
	}
	backend, handover := r.backend, r.handing
	g.forgetLocked(r)
	g.mu.Unlock()
	g.l.send(backend, item{Op: opPacket, SID: r.conn.SID(), Route: r.id, Nsp: r.nsp, Type: uint8(sio.Disconnect)})
	if handover {
		g.endSocket(r, "the new replica did not answer the handover")
		return
	}
	g.l.log.Warn("distributor: a replica did not answer a connect in time; connect refused", "backend", backend, "nsp", r.nsp)
	g.connectError(r, &core.ConnectError{Message: "Namespace unavailable", Data: map[string]string{"reason": "no answer from backend", "service": r.service}})
}

func (g *Gateway) connectError(r *route, ce *core.ConnectError) {
	data, _ := json.Marshal(map[string]any{"message": ce.Message, "data": ce.Data})
	pkt := sio.Packet{Type: sio.ConnectError, Namespace: r.nsp, Data: data}
	_ = r.conn.Forwarded(r.nsp, r, sio.AppendFrames(nil, &pkt), false)
}

// endSocket ends the client's socket of a forgotten route with a
// DISCONNECT for its namespace: the official client emits "disconnect"
// with reason "io server disconnect", fails its pending acknowledgements
// that take an error, and does not reconnect that socket by itself. The
// session and its other namespaces go on.
func (g *Gateway) endSocket(r *route, why string) {
	g.ended.Add(1)
	g.l.log.Warn("distributor: socket ended at the client", "reason", why, "sid", r.sid, "nsp", r.nsp, "service", r.service)
	pkt := sio.Packet{Type: sio.Disconnect, Namespace: r.nsp}
	_ = r.conn.Forwarded(r.nsp, r, sio.AppendFrames(nil, &pkt), false)
}

func (g *Gateway) forgetLocked(r *route) {
	g.disarmLocked(r)
	delete(g.routes, r.id)
	if m := g.byBackend[r.backend]; m != nil {
		delete(m, r.id)
		if len(m) == 0 {
			delete(g.byBackend, r.backend)
		}
	}
	if m := g.waiting[r.service]; m != nil {
		delete(m, r.id)
	}
	r.held, r.heldN = nil, 0
}

// Packet implements core.Route: the packet goes to the route's replica,
// or is held while the route waits for one or is being handed over.
func (r *route) Packet(p *sio.Packet) {
	g := r.g
	if p.Type == sio.Connect {
		g.mu.Lock()
		g.routes[r.id] = r
		ok := g.placeLocked(r)
		g.mu.Unlock()
		if !ok {
			r.conn.Close(eio.ReasonForcedClose)
		}
		return
	}
	it := item{Op: opPacket, SID: r.conn.SID(), Route: r.id, Nsp: p.Namespace, Type: uint8(p.Type), ID: p.ID, HasID: p.HasID, Data: clone(p.Data)}
	if len(p.Attachments) > 0 {
		it.Att = make([][]byte, len(p.Attachments))
		for i, a := range p.Attachments {
			it.Att[i] = clone(a)
		}
	}
	g.mu.Lock()
	if g.routes[r.id] != r {
		// Ended meanwhile: the client has its connect_error or
		// DISCONNECT.
		g.mu.Unlock()
		return
	}
	if p.Type == sio.Ack || p.Type == sio.BinaryAck {
		if _, ok := r.stale[p.ID]; ok {
			// The answer to a replica that died: its caller died with it.
			delete(r.stale, p.ID)
			g.mu.Unlock()
			return
		}
		delete(r.asked, p.ID)
		if id, ok := r.alias[p.ID]; ok {
			delete(r.alias, p.ID)
			it.ID = id
		}
	}
	ok, over := true, false
	switch {
	case r.backend != "" && !r.handing:
		// Sent under the lock, so that it keeps its order with the
		// packets held before it.
		ok = g.sendLocked(r, &it)
	case p.Type == sio.Disconnect && r.backend != "":
		// Leaving while the handover is answered: the new replica drops
		// the socket, and what was held goes nowhere.
		ok = g.l.send(r.backend, it)
	case p.Type == sio.Disconnect:
	case len(r.held) >= maxWaiting || r.heldN+itemSize(&it) > maxWaitingBytes:
		over = true
		g.forgetLocked(r)
	default:
		r.held = append(r.held, it)
		r.heldN += itemSize(&it)
	}
	if p.Type == sio.Disconnect {
		g.forgetLocked(r)
	}
	handover := r.sid != ""
	g.mu.Unlock()
	switch {
	case over && handover:
		g.endSocket(r, "too much sent while the socket was handed over")
	case over || !ok:
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
			h, text := frameHead(&frames[0])
			for _, tg := range it.Targets {
				g.mu.Lock()
				r := g.routes[tg.Route]
				if r == nil || r.backend != from || r.conn.SID() != tg.SID {
					g.mu.Unlock()
					continue
				}
				pass, refused, ok := true, false, true
				out := frames
				switch t := h.t; {
				case !text:
				case t == sio.Connect:
					g.disarmLocked(r)
					if r.handing {
						// The client is connected already: the new
						// replica's answer stays here, and what the
						// client sent meanwhile follows it.
						r.handing, pass = false, false
						ok = g.flushLocked(r)
					} else if r.sid == "" {
						r.sid = connectSID(frames[0].Data)
					}
				case t == sio.ConnectError:
					refused = r.handing
					pass = !refused
					g.forgetLocked(r)
				case t == sio.Disconnect:
					g.forgetLocked(r)
				case (t == sio.Event || t == sio.BinaryEvent) && h.hasID:
					id := h.id
					if _, old := r.stale[id]; old && len(r.alias) < maxTracked {
						// The new replica asks with an id the dead one
						// asked too, still unanswered: the client gets
						// another, so that its late answer to the dead
						// replica is not taken for this one's.
						id = aliasBase + r.nextAlias
						r.nextAlias++
						if r.alias == nil {
							r.alias = make(map[int64]int64)
						}
						r.alias[id] = h.id
						out = withAckID(frames, h, id)
					}
					r.asked = track(r.asked, id, nil)
				case t == sio.Ack || t == sio.BinaryAck:
					delete(r.pending, h.id)
				}
				g.mu.Unlock()
				if refused {
					g.l.log.Warn("distributor: the new replica refused a socket handed over", "backend", from, "answer", string(frames[0].Data))
					g.endSocket(r, "the new replica refused the handover")
					continue
				}
				if pass {
					_ = r.conn.Forwarded(r.nsp, r, out, it.Volatile)
				}
				if !ok {
					r.conn.Close(eio.ReasonForcedClose)
				}
			}
		case opUnknown:
			g.lostSocket(from, it)
		case opCloseSession:
			g.mu.Lock()
			r := g.routes[it.Route]
			mine := r != nil && r.backend == from && r.conn.SID() == it.SID
			if mine {
				r.closing = true
			}
			g.mu.Unlock()
			if !mine {
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

// backendGone hands the routes of a replica that left or stopped
// answering over to the live replicas of its service (see the package
// doc, Failures): a socket it had accepted keeps its id, its middlewares
// and connection handlers run on the new replica, and the client sees
// nothing; a connect it had not answered goes to a live replica as it
// came. A socket whose client waits for the answer to an event the dead
// replica had (an acknowledgement that will never come) is ended at the
// client instead. With no live replica, the routes wait for one for
// ConnectWait, holding what their clients send.
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
	var ended, full []*route
	moved, waiting := 0, 0
	for _, r := range m {
		switch g.rehomeLocked(r) {
		case rehomeEnded:
			ended = append(ended, r)
		case rehomeFull:
			full = append(full, r)
		}
		if r.backend != "" {
			moved++
		} else {
			waiting++
		}
	}
	g.mu.Unlock()
	// A replica that was only out of reach must not keep its copies: it
	// drops them if it hears this.
	for _, r := range m {
		g.l.send(p.id, item{Op: opClose, SID: r.conn.SID(), Route: r.id, Reason: uint8(eio.ReasonTransportClose)})
	}
	if len(m) > 0 {
		g.l.log.Warn("distributor: backend gone; its sockets are handed over", "backend", p.id, "service", p.service,
			"handed_over", moved-len(full), "waiting_for_a_replica", waiting-len(ended), "ended_with_acks_pending", len(ended))
	}
	g.endRehomed(ended, full)
}

// rehome outcomes.
const (
	rehomeOK    = iota // handed over, or waiting for a replica
	rehomeEnded        // to be ended at the client: acknowledgements pending
	rehomeFull         // the queue to Redis is full: to close the session
)

// rehomeLocked takes r, whose replica is gone or lost its socket, off it
// and hands it over (placeLocked), or forgets it when its client waits
// for an answer there.
func (g *Gateway) rehomeLocked(r *route) int {
	g.disarmLocked(r)
	if m := g.byBackend[r.backend]; m != nil {
		delete(m, r.id)
		if len(m) == 0 {
			delete(g.byBackend, r.backend)
		}
	}
	r.backend, r.handing = "", false
	if r.sid != "" && (len(r.pending) > 0 || r.untracked) {
		g.forgetLocked(r)
		return rehomeEnded
	}
	if r.sid != "" {
		g.handovers.Add(1)
		// The questions it asked the client die with it; so do the ids
		// given in place of its own.
		for id := range r.asked {
			r.stale = track(r.stale, id, nil)
		}
		r.asked, r.alias = nil, nil
	}
	if !g.placeLocked(r) {
		return rehomeFull
	}
	return rehomeOK
}

func (g *Gateway) endRehomed(ended, full []*route) {
	for _, r := range ended {
		g.endSocket(r, "acknowledgements pending at a replica that lost the socket")
	}
	for _, r := range full {
		r.conn.Close(eio.ReasonForcedClose)
	}
}

// lostSocket hands over the route of a socket its replica no longer has,
// though this gateway took the replica as live: the replica took this
// gateway as gone (its heartbeats did not reach it for a while) and
// dropped its sockets. Without it the client's events would go nowhere.
func (g *Gateway) lostSocket(from string, it *item) {
	g.mu.Lock()
	r := g.routes[it.Route]
	if r == nil || r.backend != from || r.handing || r.closing || r.sid == "" || r.conn.SID() != it.SID {
		// Gone meanwhile, being handed over already, closed by the
		// replica (the session's close may wait for the input in
		// progress, and the replica answers packets that came after it
		// as lost), or not yet accepted (the connect is on its way).
		g.mu.Unlock()
		return
	}
	var ended, full []*route
	switch g.rehomeLocked(r) {
	case rehomeEnded:
		ended = append(ended, r)
	case rehomeFull:
		full = append(full, r)
	default:
		g.l.log.Warn("distributor: a replica lost a socket; it is handed over", "backend", from, "sid", r.sid, "nsp", r.nsp)
	}
	g.mu.Unlock()
	g.endRehomed(ended, full)
}
