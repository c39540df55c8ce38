package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/sio-go/sio/cluster/internal/publoop"
	"github.com/sio-go/sio/cluster/internal/redisopt"
	"github.com/sio-go/sio/cluster/internal/subloop"
	"github.com/sio-go/sio/core"
)

// Protocol is the wire protocol spoken on Redis.
type Protocol uint8

const (
	// Classic is the protocol of the reference's createAdapter: PUBLISH and
	// PSUBSCRIBE/SUBSCRIBE, on standalone Redis or Redis Cluster.
	Classic Protocol = iota
	// Sharded is the protocol of the reference's createShardedAdapter:
	// SPUBLISH and SSUBSCRIBE (Redis 7), on Redis Cluster.
	Sharded
)

func (p Protocol) String() string {
	switch p {
	case Classic:
		return "classic"
	case Sharded:
		return "sharded"
	}
	return fmt.Sprintf("Protocol(%d)", uint8(p))
}

// Options configure a Bus. The zero value of a field means its default.
type Options struct {
	// Client is the connection to Redis, standalone or cluster. The Bus
	// uses it and leaves it open on Close. When nil, URL is dialed. For a
	// Redis Cluster, give it a ClusterOption.ShardsRefreshInterval (the
	// Bus sets 1s on the client it makes): after a failover, requests fail
	// until the client's view of the cluster includes the promoted master.
	Client rueidis.Client
	// URL of Redis when Client is nil: redis://[user:password@]host:port[/db],
	// with ?addr=host:port for more seed nodes of a cluster. The Bus
	// closes the client it made.
	URL string
	// Prefix of the channels: "socket.io" as in the reference. Every node
	// of one cluster, Node.js ones included, uses the same.
	Prefix string
	// RequestTimeout bounds a request to the other nodes when the call
	// sets no timeout of its own (FetchSockets without Timeout, AllRooms,
	// ServerCount); ServerSideEmitWithAck has its own, always. Default 5s,
	// the reference's.
	RequestTimeout time.Duration
	// Protocol is the wire protocol. Default Classic.
	Protocol Protocol
	// SubscriptionMode of the Sharded protocol. Default DynamicRooms, as
	// in the reference.
	SubscriptionMode SubscriptionMode
	// SpecificResponseChannel publishes this node's answers on the
	// requester's own response channel, as the reference's
	// publishOnSpecificResponseChannel. Default off, as in the reference;
	// turn it on only when every node can receive there (every Go node
	// does).
	SpecificResponseChannel bool
	// QueueSize bounds the messages waiting to be published, and those
	// received and waiting to be handled. Past it a message is dropped and
	// counted. Default 65,536.
	QueueSize int
	// MaxMessageBytes bounds a message received from Redis; a larger one
	// is dropped and counted. Default 16 MiB.
	MaxMessageBytes int
	// MaxDepth bounds the nesting of a value in a received message.
	// Default 64.
	MaxDepth int
	// Logger receives the logs; default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "socket.io"
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 65536
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 16 << 20
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 64
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Stats are the counters of a Bus since it was made.
type Stats struct {
	// Published messages: Redis accepted them.
	Published uint64
	// Received messages for this node's namespaces, its own included.
	Received uint64
	// Dropped messages: a queue was full (publishing or handling) or a
	// received message was larger than MaxMessageBytes.
	Dropped uint64
	// Invalid messages received that could not be decoded.
	Invalid uint64
	// Failed publishes: Redis refused them or could not be reached.
	Failed uint64
	// RequestTimeouts: requests to other nodes that ended without every
	// answer.
	RequestTimeouts uint64
	// Reconnects of the subscription after it was lost.
	Reconnects uint64
	// Subscribed reports whether every channel of this node is subscribed
	// now.
	Subscribed bool
}

// Bus connects the namespaces of one server to the other nodes of a
// cluster through Redis. Make one per server with New, give its Adapter to
// the server's configuration, and Close it after the server.
type Bus struct {
	opts    Options
	client  rueidis.Client
	own     bool
	cluster bool
	sharded bool
	// pin is a key whose slot's master holds the subscriptions of the
	// classic protocol on a Redis Cluster (see subscriber); it is only
	// looked at, never written.
	pin string

	mu       sync.Mutex
	adapters map[string]*Adapter // by namespace
	channels map[string]*Adapter // SUBSCRIBE channel -> adapter
	patterns map[string]*Adapter // PSUBSCRIBE pattern -> adapter
	sent     map[subKey]bool     // subscriptions sent on the current connection
	acked    map[subKey]bool     // subscriptions Redis confirmed on it
	subWake  chan struct{}       // wakes the subscriber when wanted changes
	subNote  chan struct{}       // closed and replaced when acked changes
	closed   bool

	inbox  chan inMsg
	outbox chan publoop.Msg
	pub    publoop.Publisher // the publisher goroutine's
	done   chan struct{}
	wg     sync.WaitGroup

	published, received, dropped, invalid, failed, timeouts, reconnects atomic.Uint64
	warn                                                                publoop.Limited
}

type subKey struct {
	pattern bool
	name    string
}

type inMsg struct {
	pattern, channel, payload string
}

// New makes a Bus and starts its goroutines: one that keeps the
// subscriptions (and makes them again after Redis comes back), one that
// handles what arrives, one that publishes.
func New(opts Options) (*Bus, error) {
	opts = opts.withDefaults()
	b := &Bus{
		opts:     opts,
		client:   opts.Client,
		warn:     publoop.Limited{Log: opts.Logger},
		adapters: make(map[string]*Adapter),
		channels: make(map[string]*Adapter),
		patterns: make(map[string]*Adapter),
		sent:     make(map[subKey]bool),
		acked:    make(map[subKey]bool),
		subWake:  make(chan struct{}, 1),
		subNote:  make(chan struct{}),
		inbox:    make(chan inMsg, opts.QueueSize),
		outbox:   make(chan publoop.Msg, opts.QueueSize),
		done:     make(chan struct{}),
	}
	if opts.Protocol != Classic && opts.Protocol != Sharded {
		return nil, fmt.Errorf("cluster: unknown protocol %v", opts.Protocol)
	}
	b.sharded = opts.Protocol == Sharded
	if b.client == nil {
		if opts.URL == "" {
			return nil, errors.New("cluster: Options.Client or Options.URL is required")
		}
		co, err := redisopt.FromURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		if co.ClusterOption.ShardsRefreshInterval == 0 {
			co.ClusterOption.ShardsRefreshInterval = topologyRefresh
		}
		c, err := rueidis.NewClient(co)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		b.client, b.own = c, true
	}
	b.cluster = b.client.Mode() == rueidis.ClientModeCluster
	b.pub = publoop.Publisher{
		Client:    b.client,
		Sharded:   b.sharded,
		Published: &b.published,
		Failed:    &b.failed,
		Failure: func(m publoop.Msg, err error) {
			b.logLimited("publish", "cluster: publish failed", "channel", m.Channel, "err", err)
		},
	}
	b.pin = opts.Prefix + "-node#" + randomID(8)
	b.wg.Add(3)
	if b.sharded {
		go b.shardManager()
	} else {
		go b.subscriber()
	}
	go b.worker()
	go b.publisher()
	return b, nil
}

// Adapter is the core.AdapterFactory of the bus: give it to the server's
// configuration (core.Config.Adapter, httpadapter.Options.Adapter).
func (b *Bus) Adapter(nsp *core.Namespace) core.Adapter {
	return b.newAdapter(nsp)
}

// Stats returns the counters.
func (b *Bus) Stats() Stats {
	b.mu.Lock()
	sub := b.allAckedLocked()
	b.mu.Unlock()
	return Stats{
		Published:       b.published.Load(),
		Received:        b.received.Load(),
		Dropped:         b.dropped.Load(),
		Invalid:         b.invalid.Load(),
		Failed:          b.failed.Load(),
		RequestTimeouts: b.timeouts.Load(),
		Reconnects:      b.reconnects.Load(),
		Subscribed:      sub,
	}
}

// WaitSubscribed waits until Redis has confirmed every subscription of the
// bus's namespaces, or ctx ends. A node receives what others publish only
// from then on.
func (b *Bus) WaitSubscribed(ctx context.Context) error {
	for {
		b.mu.Lock()
		ok, note, closed := b.allAckedLocked(), b.subNote, b.closed
		b.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if ok {
			return nil
		}
		select {
		case <-note:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ErrClosed is returned by the calls of a closed Bus or adapter.
var ErrClosed = errors.New("cluster: closed")

// Close stops the goroutines of the bus, after a short attempt to publish
// what is queued, and closes the Redis client when the bus made it. Close
// the server (and so its adapters) first.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.subNote)
	b.mu.Unlock()
	close(b.done)
	b.wg.Wait()
	if b.own {
		b.client.Close()
	}
	return nil
}

func (b *Bus) allAckedLocked() bool {
	for ch := range b.channels {
		if !b.acked[subKey{false, ch}] {
			return false
		}
	}
	for p := range b.patterns {
		if !b.acked[subKey{true, p}] {
			return false
		}
	}
	return true
}

func (b *Bus) register(a *Adapter, channels, patterns []string) {
	b.mu.Lock()
	if old := b.adapters[a.nsp.Name()]; old != nil {
		b.mu.Unlock()
		panic("cluster: namespace " + a.nsp.Name() + " has an adapter on this Bus already: use one Bus per server")
	}
	b.adapters[a.nsp.Name()] = a
	for _, c := range channels {
		b.channels[c] = a
	}
	for _, p := range patterns {
		b.patterns[p] = a
	}
	b.mu.Unlock()
	b.wakeSubscriber()
}

func (b *Bus) unregister(a *Adapter) {
	b.mu.Lock()
	if b.adapters[a.nsp.Name()] == a {
		delete(b.adapters, a.nsp.Name())
	}
	for c, x := range b.channels {
		if x == a {
			delete(b.channels, c)
		}
	}
	for p, x := range b.patterns {
		if x == a {
			delete(b.patterns, p)
		}
	}
	b.mu.Unlock()
	b.wakeSubscriber()
}

func (b *Bus) wakeSubscriber() {
	select {
	case b.subWake <- struct{}{}:
	default:
	}
}

// ---------------------------------------------------------------------------
// Subscriptions.

// topologyRefresh is how often the client that the bus makes for a Redis
// Cluster asks for the cluster's topology, besides when a command meets a
// moved slot or a lost node: so that a node counts subscribers on the
// masters a failover promoted (see numSub) even when none of its own
// commands went to the master that failed.
const topologyRefresh = time.Second

const (
	minBackoff = subloop.MinBackoff
	maxBackoff = subloop.MaxBackoff
	// commandTimeout bounds one command of the bus's own (subscribe,
	// publish batch).
	commandTimeout = publoop.CommandTimeout
)

// subscriber keeps one dedicated connection subscribed to every channel
// and pattern of the bus's namespaces, and makes a new one, subscribed
// again, whenever the connection is lost. On a Redis Cluster the
// connection sits on a master (see subloop.Loop.Pin): a subscriber on a
// replica that the client's view of the cluster does not list would not
// be counted by numSub.
func (b *Bus) subscriber() {
	defer b.wg.Done()
	subloop.Run(b.client, b.done, subloop.Loop{
		Hooks: rueidis.PubSubHooks{
			OnMessage:      b.onMessage,
			OnSubscription: b.onSubscription,
		},
		Subscribe:    b.syncSubscriptions,
		Wake:         b.subWake,
		Pin:          b.pin,
		Reconnecting: func() { b.reconnects.Add(1) },
		Ended: func(err error, retryIn time.Duration) {
			b.resetSubscriptions()
			if err != nil {
				b.logLimited("subscribe", "cluster: subscriptions lost; reconnecting", "err", err, "retry_in", retryIn)
			}
		},
	})
}

// syncSubscriptions subscribes what is wanted and not yet sent on the
// connection, and unsubscribes what is no longer wanted.
func (b *Bus) syncSubscriptions(dc rueidis.DedicatedClient) error {
	b.mu.Lock()
	var sub, psub, unsub, punsub []string
	for c := range b.channels {
		if !b.sent[subKey{false, c}] {
			sub = append(sub, c)
		}
	}
	for p := range b.patterns {
		if !b.sent[subKey{true, p}] {
			psub = append(psub, p)
		}
	}
	for k := range b.sent {
		if k.pattern {
			if b.patterns[k.name] == nil {
				punsub = append(punsub, k.name)
			}
		} else if b.channels[k.name] == nil {
			unsub = append(unsub, k.name)
		}
	}
	b.mu.Unlock()
	var cmds rueidis.Commands
	if len(sub) > 0 {
		cmds = append(cmds, dc.B().Subscribe().Channel(sub...).Build())
	}
	if len(psub) > 0 {
		cmds = append(cmds, dc.B().Psubscribe().Pattern(psub...).Build())
	}
	if len(unsub) > 0 {
		cmds = append(cmds, dc.B().Unsubscribe().Channel(unsub...).Build())
	}
	if len(punsub) > 0 {
		cmds = append(cmds, dc.B().Punsubscribe().Pattern(punsub...).Build())
	}
	if len(cmds) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	for _, r := range dc.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return err
		}
	}
	b.mu.Lock()
	for _, c := range sub {
		b.sent[subKey{false, c}] = true
	}
	for _, p := range psub {
		b.sent[subKey{true, p}] = true
	}
	for _, c := range unsub {
		delete(b.sent, subKey{false, c})
	}
	for _, p := range punsub {
		delete(b.sent, subKey{true, p})
	}
	b.mu.Unlock()
	return nil
}

func (b *Bus) resetSubscriptions() {
	b.mu.Lock()
	clear(b.sent)
	clear(b.acked)
	b.notifyLocked()
	b.mu.Unlock()
}

func (b *Bus) notifyLocked() {
	if b.closed {
		return
	}
	close(b.subNote)
	b.subNote = make(chan struct{})
}

// onSubscription runs on the connection's reading goroutine.
func (b *Bus) onSubscription(s rueidis.PubSubSubscription) {
	b.mu.Lock()
	switch s.Kind {
	case "subscribe":
		b.acked[subKey{false, s.Channel}] = true
	case "psubscribe":
		b.acked[subKey{true, s.Channel}] = true
	case "unsubscribe":
		delete(b.acked, subKey{false, s.Channel})
	case "punsubscribe":
		delete(b.acked, subKey{true, s.Channel})
	}
	b.notifyLocked()
	b.mu.Unlock()
}

// onMessage runs on the connection's reading goroutine: it only queues.
func (b *Bus) onMessage(m rueidis.PubSubMessage) {
	b.received.Add(1)
	if len(m.Message) > b.opts.MaxMessageBytes {
		b.dropped.Add(1)
		b.logLimited("too-large", "cluster: message over MaxMessageBytes dropped", "channel", m.Channel, "bytes", len(m.Message))
		return
	}
	select {
	case b.inbox <- inMsg{pattern: m.Pattern, channel: m.Channel, payload: m.Message}:
	default:
		b.dropped.Add(1)
		b.logLimited("inbox-full", "cluster: receive queue full; message dropped", "channel", m.Channel)
	}
}

// worker handles the received messages in the order Redis delivered them.
func (b *Bus) worker() {
	defer b.wg.Done()
	for {
		select {
		case m := <-b.inbox:
			b.mu.Lock()
			var a *Adapter
			if m.pattern != "" {
				a = b.patterns[m.pattern]
			} else {
				a = b.channels[m.channel]
			}
			b.mu.Unlock()
			if a != nil {
				a.handle(m)
			}
		case <-b.done:
			return
		}
	}
}

// ---------------------------------------------------------------------------
// Publishing.

// publish queues a message; it never waits.
func (b *Bus) publish(channel string, payload []byte) {
	select {
	case b.outbox <- publoop.Msg{Channel: channel, Payload: payload}:
	default:
		b.dropped.Add(1)
		b.logLimited("outbox-full", "cluster: publish queue full; message dropped", "channel", channel)
	}
}

// maxBatch bounds the messages published in one round trip.
const maxBatch = 256

// publisher sends the queued messages in order, many per round trip, and
// what is queued when the bus closes, for at most a second.
func (b *Bus) publisher() {
	defer b.wg.Done()
	publoop.Run(b.outbox, b.done, maxBatch, b.pub.Send)
}

// ---------------------------------------------------------------------------
// Server count.

// numSub is the number of subscribers of channel (PUBSUB NUMSUB, or
// SHARDNUMSUB as kind says): on a cluster, the sum over every node the
// client knows, since each counts only its own clients. A node that
// cannot be reached makes it fail: after a failover, that is the sign of
// a view of the cluster that predates it, and that may lack the promoted
// master, where buses subscribe again; an error is better than a count
// too low. The client refreshes its view by itself (topologyRefresh).
func (b *Bus) numSub(ctx context.Context, kind, channel string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.opts.RequestTimeout)
	defer cancel()
	if !b.cluster {
		return numSubOf(ctx, b.client, kind, channel)
	}
	total := 0
	for _, c := range b.client.Nodes() {
		n, err := numSubOf(ctx, c, kind, channel)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func numSubOf(ctx context.Context, c rueidis.Client, kind, channel string) (int, error) {
	cmd := func() rueidis.Completed {
		if kind == "SHARDNUMSUB" {
			return c.B().PubsubShardnumsub().Channel(channel).Build()
		}
		return c.B().PubsubNumsub().Channel(channel).Build()
	}
	m, err := c.Do(ctx, cmd()).AsIntMap()
	if err != nil && staleConnection(err) {
		m, err = c.Do(ctx, cmd()).AsIntMap()
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: PUBSUB %s: %w", kind, err)
	}
	return int(m[channel]), nil
}

// ---------------------------------------------------------------------------
// Helpers: the names the package uses for those of publoop.

// logLimited logs at most once a second per kind, at warning level.
func (b *Bus) logLimited(kind, msg string, args ...any) { b.warn.Warn(kind, msg, args...) }

// staleConnection reports an error of a connection that the server had
// closed before the command was written: safe to send again.
func staleConnection(err error) bool { return publoop.Stale(err) }

// randomID returns n random bytes in hex.
func randomID(n int) string { return publoop.RandomID(n) }
