package distributor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/rueidis"
	"github.com/sio-go/sio/cluster/internal/publoop"
	"github.com/sio-go/sio/cluster/internal/redisopt"
	"github.com/sio-go/sio/cluster/internal/subloop"
)

// Limits bound what a node accepts from Redis.
type Limits struct {
	// MaxMessageBytes bounds one message; a larger one is dropped and
	// counted. Default 16 MiB.
	MaxMessageBytes int
	// MaxItems bounds the operations in one message. Default 65,536.
	MaxItems int
	// MaxTargets bounds the recipients of one shared packet. Default
	// 1,000,000.
	MaxTargets int
	// MaxFrames bounds the frames (attachments + 1) of one packet.
	// Default 1,024.
	MaxFrames int
}

func (l Limits) withDefaults() Limits {
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = 16 << 20
	}
	if l.MaxItems <= 0 {
		l.MaxItems = 65536
	}
	if l.MaxTargets <= 0 {
		l.MaxTargets = 1_000_000
	}
	if l.MaxFrames <= 0 {
		l.MaxFrames = 1024
	}
	return l
}

// Common are the options that gateways and backends share.
type Common struct {
	// Client is the connection to Redis; left open on Close. When nil,
	// URL is dialed (and closed on Close).
	Client rueidis.Client
	// URL of Redis when Client is nil: redis://host:port[/db].
	URL string
	// Prefix of the channels; every gateway and backend of one system uses
	// the same. Default "sio-dist".
	Prefix string
	// Heartbeat is the interval of the liveness messages; a node not heard
	// from for three intervals is gone. Default 1s.
	Heartbeat time.Duration
	// QueueSize bounds the operations waiting to be published and the
	// messages received waiting to be handled. Default 65,536.
	QueueSize int
	// Limits bound what is accepted from Redis.
	Limits Limits
	// Logger receives the logs; default slog.Default().
	Logger *slog.Logger
}

func (c Common) withDefaults() Common {
	if c.Prefix == "" {
		c.Prefix = "sio-dist"
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = time.Second
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 65536
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Limits = c.Limits.withDefaults()
	return c
}

// Stats are a node's counters.
type Stats struct {
	Published  uint64 // messages Redis accepted
	Received   uint64 // messages received
	Dropped    uint64 // operations or messages dropped on a full queue or over a limit
	Invalid    uint64 // messages that did not decode
	Failed     uint64 // publishes Redis refused or could not take
	Reconnects uint64 // subscriptions made again after a loss
	Subscribed bool   // both channels of the node are subscribed now

	// A gateway's sockets whose replica was gone:
	Handovers    uint64 // given to another replica, or waiting for one
	EndedSockets uint64 // ended at the client instead (see the package doc, Failures)
}

// ErrClosed is returned by calls on a closed gateway or backend.
var ErrClosed = errors.New("distributor: closed")

// peer is another node as heartbeats describe it.
type peer struct {
	id      string
	role    uint8
	service string
	seen    time.Time
}

// out is one operation waiting to be published: items for a node's
// channel (coalesced with the others for it), or a whole envelope.
type out struct {
	channel string
	it      item
	env     *envelope
}

// handlers are what a link reports to its gateway or backend, on the
// link's worker goroutine, one at a time.
type handlers struct {
	items      func(from string, items []item)
	peerAlive  func(p *peer, fresh bool) // a heartbeat (fresh: first heard)
	peerGone   func(p *peer)
	subscribed func() // the channels are subscribed (again)
	poked      func() // poke was called
}

// link is a node's connection to the others: its own channel and the
// heartbeat channel, a publisher that keeps order and coalesces the items
// for one node into one message, and the table of live peers.
type link struct {
	opts    Common
	id      string
	role    uint8
	service string
	client  rueidis.Client
	own     bool
	log     *slog.Logger
	h       handlers

	inbox  chan []byte
	pokes  chan struct{}
	outbox chan out
	pub    publoop.Publisher // the publisher goroutine's
	done   chan struct{}
	wg     sync.WaitGroup

	mu         sync.Mutex
	peers      map[string]*peer
	subscribed bool
	subSince   time.Time     // when the channels were last subscribed
	subNote    chan struct{} // closed and replaced when subscribed or peers change
	closed     bool
	left       atomic.Bool // the node said goodbye: it stays silent until closed

	published, received, dropped, invalid, failed, reconnects atomic.Uint64
	warn                                                      publoop.Limited
}

func newLink(opts Common, role uint8, service string, h handlers) (*link, error) {
	opts = opts.withDefaults()
	l := &link{
		opts:    opts,
		id:      publoop.RandomID(8),
		role:    role,
		service: service,
		client:  opts.Client,
		log:     opts.Logger,
		warn:    publoop.Limited{Log: opts.Logger},
		h:       h,
		inbox:   make(chan []byte, opts.QueueSize),
		pokes:   make(chan struct{}, 1),
		outbox:  make(chan out, opts.QueueSize),
		done:    make(chan struct{}),
		peers:   make(map[string]*peer),
		subNote: make(chan struct{}),
	}
	if l.client == nil {
		if opts.URL == "" {
			return nil, errors.New("distributor: Client or URL is required")
		}
		co, err := redisopt.FromURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("distributor: %w", err)
		}
		c, err := rueidis.NewClient(co)
		if err != nil {
			return nil, fmt.Errorf("distributor: %w", err)
		}
		l.client, l.own = c, true
	}
	l.pub = publoop.Publisher{
		Client:    l.client,
		Published: &l.published,
		Failed:    &l.failed,
		Failure: func(_ publoop.Msg, err error) {
			l.warn.Warn("publish", "distributor: publish failed", "err", err)
		},
	}
	return l, nil
}

func (l *link) start() {
	l.wg.Add(4)
	go l.subscriber()
	go l.worker()
	go l.publisher()
	go l.heartbeats()
}

func (l *link) nodeChannel(id string) string { return l.opts.Prefix + "#n#" + id }
func (l *link) hbChannel() string            { return l.opts.Prefix + "#hb" }

// leave says goodbye now, in order with what was queued before, and
// stops the heartbeats: the other nodes take this one as gone, while it
// still sends and receives until close.
func (l *link) leave() {
	if l.left.CompareAndSwap(false, true) {
		l.publishEnv(l.hbChannel(), &envelope{Kind: kindBye, From: l.id, Role: l.role, Service: l.service})
	}
}

// close says goodbye, publishes what is queued (for at most a second) and
// stops the goroutines.
func (l *link) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	close(l.subNote)
	l.mu.Unlock()
	l.leave()
	close(l.done)
	l.wg.Wait()
	if l.own {
		l.client.Close()
	}
}

func (l *link) stats() Stats {
	l.mu.Lock()
	sub := l.subscribed
	l.mu.Unlock()
	return Stats{
		Published: l.published.Load(), Received: l.received.Load(), Dropped: l.dropped.Load(),
		Invalid: l.invalid.Load(), Failed: l.failed.Load(), Reconnects: l.reconnects.Load(), Subscribed: sub,
	}
}

// wait waits until ok (checked under mu) holds, or ctx ends.
func (l *link) wait(ctx context.Context, ok func() bool) error {
	for {
		l.mu.Lock()
		good, note, closed := ok(), l.subNote, l.closed
		l.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if good {
			return nil
		}
		select {
		case <-note:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *link) notifyLocked() {
	if l.closed {
		return
	}
	close(l.subNote)
	l.subNote = make(chan struct{})
}

// ---------------------------------------------------------------------------
// Receiving.

// commandTimeout bounds one command of the link's own (subscribe, publish
// batch).
const commandTimeout = publoop.CommandTimeout

// subscriber keeps a dedicated connection subscribed to the node's channel
// and the heartbeat channel, and makes it again when it is lost.
func (l *link) subscriber() {
	defer l.wg.Done()
	subloop.Run(l.client, l.done, subloop.Loop{
		Hooks: rueidis.PubSubHooks{
			OnMessage:      l.onMessage,
			OnSubscription: l.onSubscription,
		},
		Subscribe: func(dc rueidis.DedicatedClient) error {
			ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
			defer cancel()
			return dc.Do(ctx, dc.B().Subscribe().Channel(l.nodeChannel(l.id), l.hbChannel()).Build()).Error()
		},
		Reconnecting: func() { l.reconnects.Add(1) },
		Ended: func(err error, retryIn time.Duration) {
			if err == nil { // closing
				return
			}
			l.mu.Lock()
			l.subscribed = false
			l.notifyLocked()
			l.mu.Unlock()
			l.warn.Warn("subscribe", "distributor: subscription lost; reconnecting", "err", err, "retry_in", retryIn)
		},
	})
}

// onSubscription runs on the subscription's reader. Redis confirms each
// channel with the count of the connection's subscriptions: the second
// means both are subscribed on this connection (a new one starts from
// none).
func (l *link) onSubscription(s rueidis.PubSubSubscription) {
	if s.Kind != "subscribe" || s.Count != 2 {
		return
	}
	l.mu.Lock()
	l.subscribed = true
	l.subSince = time.Now()
	l.notifyLocked()
	l.mu.Unlock()
	l.onSubscribed()
}

// onSubscribed runs on the subscription's reader: it only queues a hello,
// which makes every node answer with a heartbeat at once.
func (l *link) onSubscribed() {
	if l.left.Load() {
		return
	}
	l.publishEnv(l.hbChannel(), &envelope{Kind: kindHello, From: l.id, Role: l.role, Service: l.service})
	l.publishEnv(l.hbChannel(), l.heartbeat())
	if l.h.subscribed != nil {
		l.h.subscribed()
	}
}

func (l *link) onMessage(m rueidis.PubSubMessage) {
	l.received.Add(1)
	if len(m.Message) > l.opts.Limits.MaxMessageBytes {
		l.dropped.Add(1)
		l.warn.Warn("too-large", "distributor: message over MaxMessageBytes dropped", "bytes", len(m.Message))
		return
	}
	select {
	// The message's bytes are read, never written: no copy.
	case l.inbox <- unsafe.Slice(unsafe.StringData(m.Message), len(m.Message)):
	default:
		l.dropped.Add(1)
		l.warn.Warn("inbox-full", "distributor: receive queue full; message dropped")
	}
}

// poke has the worker call handlers.poked; it never blocks.
func (l *link) poke() {
	select {
	case l.pokes <- struct{}{}:
	default:
	}
}

// worker handles the messages in the order Redis delivered them.
func (l *link) worker() {
	defer l.wg.Done()
	for {
		select {
		case b := <-l.inbox:
			l.handle(b)
		case <-l.pokes:
			if l.h.poked != nil {
				l.h.poked()
			}
		case <-l.done:
			return
		}
	}
}

func (l *link) handle(b []byte) {
	e, err := decode(b, &l.opts.Limits)
	if err != nil {
		l.invalid.Add(1)
		l.warn.Warn("invalid", "distributor: invalid message", "err", err)
		return
	}
	if e.From == l.id {
		return
	}
	switch e.Kind {
	case kindItems:
		l.touch(e.From, 0, "")
		l.h.items(e.From, e.Items)
	case kindHeartbeat:
		l.touch(e.From, e.Role, e.Service)
	case kindHello:
		l.touch(e.From, e.Role, e.Service)
		if !l.left.Load() {
			l.publishEnv(l.hbChannel(), l.heartbeat())
		}
	case kindBye:
		l.mu.Lock()
		p := l.peers[e.From]
		delete(l.peers, e.From)
		l.notifyLocked()
		l.mu.Unlock()
		if p != nil {
			l.h.peerGone(p)
		}
	}
}

// touch notes that node id is alive. A node first heard through items has
// no role yet; its heartbeat fills it in.
func (l *link) touch(id string, role uint8, service string) *peer {
	l.mu.Lock()
	p := l.peers[id]
	fresh := p == nil
	if fresh {
		p = &peer{id: id}
		l.peers[id] = p
	}
	p.seen = time.Now()
	learned := role != 0 && p.role == 0
	if role != 0 {
		p.role, p.service = role, service
	}
	if fresh || learned {
		l.notifyLocked()
	}
	l.mu.Unlock()
	if (fresh || learned) && p.role != 0 && l.h.peerAlive != nil {
		l.h.peerAlive(p, true)
	}
	return p
}

// heartbeats publishes the node's heartbeat every interval and forgets the
// peers not heard from for three. After a tick that came late by more than
// an interval (this process did not run: a pause of the machine, a stop
// signal), it forgets nobody for one more interval: the peers' heartbeats
// may be waiting, unread, in its own connection.
func (l *link) heartbeats() {
	defer l.wg.Done()
	hb := l.opts.Heartbeat
	t := time.NewTicker(hb / 2)
	defer t.Stop()
	last := time.Now()
	prev, grace := last, time.Time{}
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
			now := time.Now()
			if now.Sub(prev) > hb/2+hb {
				grace = now.Add(hb)
			}
			prev = now
			if now.Sub(last) >= hb && !l.left.Load() {
				l.publishEnv(l.hbChannel(), l.heartbeat())
				last = now
			}
			if now.Before(grace) {
				continue
			}
			var gone []*peer
			l.mu.Lock()
			for id, p := range l.peers {
				if now.Sub(p.seen) > 3*hb {
					gone = append(gone, p)
					delete(l.peers, id)
				}
			}
			if len(gone) > 0 {
				l.notifyLocked()
			}
			l.mu.Unlock()
			for _, p := range gone {
				l.log.Warn("distributor: node gone (no heartbeat)", "node", p.id, "service", p.service)
				l.h.peerGone(p)
			}
		}
	}
}

func (l *link) heartbeat() *envelope {
	return &envelope{Kind: kindHeartbeat, From: l.id, Role: l.role, Service: l.service}
}

// livePeers lists the live peers that match keep.
func (l *link) livePeers(keep func(*peer) bool) []*peer {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*peer
	for _, p := range l.peers {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// freshView reports whether the table of peers may still be filling: the
// channels are not subscribed, or were subscribed less than three
// heartbeats ago.
func (l *link) freshView() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.subscribed || time.Since(l.subSince) < 3*l.opts.Heartbeat
}

func (l *link) alive(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peers[id] != nil
}

// ---------------------------------------------------------------------------
// Publishing.

// send queues an item for node to; it never waits, and reports false when
// the queue is full (the item is dropped and counted).
func (l *link) send(to string, it item) bool {
	select {
	case l.outbox <- out{channel: l.nodeChannel(to), it: it}:
		return true
	default:
		l.dropped.Add(1)
		l.warn.Warn("outbox-full", "distributor: publish queue full; operation dropped")
		return false
	}
}

func (l *link) publishEnv(channel string, e *envelope) {
	select {
	case l.outbox <- out{channel: channel, env: e}:
	default:
		l.dropped.Add(1)
	}
}

const maxBatch = 1024

// publisher sends the queued operations in order, and what is queued when
// the link closes, for at most a second.
func (l *link) publisher() {
	defer l.wg.Done()
	publoop.Run(l.outbox, l.done, maxBatch, l.publishBatch)
}

// publishBatch publishes a batch of operations in order, in one round
// trip: the items queued for one node make one message (in their order);
// consecutive items with the same frames (a broadcast) become one item
// with every target.
func (l *link) publishBatch(batch []out) {
	type msg struct {
		channel string
		env     *envelope
	}
	var msgs []msg
	open := make(map[string]int) // channel -> index of its items message
	for _, o := range batch {
		if o.env != nil {
			msgs = append(msgs, msg{o.channel, o.env})
			// Items queued after it go in later messages: a goodbye
			// comes after what was sent before it and before the rest.
			clear(open)
			continue
		}
		i, ok := open[o.channel]
		if !ok {
			i = len(msgs)
			open[o.channel] = i
			msgs = append(msgs, msg{o.channel, &envelope{Kind: kindItems, From: l.id}})
		}
		e := msgs[i].env
		if n := len(e.Items); n > 0 && o.it.Op == opFrames && sameFrames(&e.Items[n-1], &o.it) {
			e.Items[n-1].Targets = append(e.Items[n-1].Targets, o.it.Targets...)
			continue
		}
		e.Items = append(e.Items, o.it)
	}
	pubs := make([]publoop.Msg, 0, len(msgs))
	for _, m := range msgs {
		b, err := encode(m.env)
		if err != nil {
			l.failed.Add(1)
			l.warn.Warn("encode", "distributor: encode failed", "err", err)
			continue
		}
		pubs = append(pubs, publoop.Msg{Channel: m.channel, Payload: b})
	}
	l.pub.Send(pubs)
}

// sameFrames reports whether two frame items carry the very same frames
// (one broadcast queued for several sockets).
func sameFrames(a, b *item) bool {
	if a.Volatile != b.Volatile || len(a.Frames) != len(b.Frames) || len(a.Frames) == 0 {
		return false
	}
	for i := range a.Frames {
		x, y := a.Frames[i].Data, b.Frames[i].Data
		if len(x) != len(y) || a.Frames[i].Binary != b.Frames[i].Binary || (len(x) > 0 && &x[0] != &y[0]) {
			return false
		}
	}
	return true
}
