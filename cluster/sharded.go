package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/sio"
)

// SubscriptionMode says which channels a node of the sharded protocol
// subscribes to, as the reference's subscriptionMode.
type SubscriptionMode uint8

const (
	// DynamicRooms (the default, the reference's "dynamic") subscribes to
	// the namespace's channel, the node's response channel, and one
	// channel per public room with a socket on the node. A broadcast to a
	// single public room goes on that room's channel, so it reaches only
	// the nodes that have the room.
	DynamicRooms SubscriptionMode = iota
	// StaticChannels ("static") subscribes to the namespace's channel and
	// the node's response channel only; every broadcast reaches every node.
	StaticChannels
	// DynamicPrivate ("dynamic-private") is DynamicRooms where socket id
	// rooms have their channel too.
	DynamicPrivate
)

func (m SubscriptionMode) String() string {
	switch m {
	case DynamicRooms:
		return "dynamic"
	case StaticChannels:
		return "static"
	case DynamicPrivate:
		return "dynamic-private"
	}
	return fmt.Sprintf("SubscriptionMode(%d)", uint8(m))
}

// The message types of the reference's cluster adapter, which the sharded
// protocol speaks.
const (
	msgInitialHeartbeat     = 1
	msgHeartbeat            = 2
	msgBroadcast            = 3
	msgSocketsJoin          = 4
	msgSocketsLeave         = 5
	msgDisconnectSockets    = 6
	msgFetchSockets         = 7
	msgFetchSocketsResponse = 8
	msgServerSideEmit       = 9
	msgServerSideEmitResp   = 10
	msgBroadcastClientCount = 11
	msgBroadcastAck         = 12
	msgAdapterClose         = 13
)

// looksLikeSocketID is the reference's test of a room that is a socket id.
func looksLikeSocketID(room string) bool { return len(room) == 20 }

// ---------------------------------------------------------------------------
// Subscriptions: one SSUBSCRIBE per channel, each routed by the client to
// the node that owns the channel's slot, and made again when it is lost
// (the node failed over, the slot moved, the connection broke).

func (b *Bus) shardManager() {
	defer b.wg.Done()
	type sub struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	running := map[string]*sub{}
	stop := func(ch string, s *sub) {
		s.cancel()
		delete(running, ch)
	}
	var stopped []*sub
	for {
		b.mu.Lock()
		for ch := range b.channels {
			if running[ch] == nil {
				ctx, cancel := context.WithCancel(context.Background())
				s := &sub{cancel: cancel, done: make(chan struct{})}
				running[ch] = s
				go b.shardLoop(ctx, ch, s.done)
			}
		}
		for ch, s := range running {
			if b.channels[ch] == nil {
				stop(ch, s)
				stopped = append(stopped, s)
			}
		}
		b.mu.Unlock()
		// Forget the loops that ended.
		live := stopped[:0]
		for _, s := range stopped {
			select {
			case <-s.done:
			default:
				live = append(live, s)
			}
		}
		stopped = live
		select {
		case <-b.subWake:
		case <-b.done:
			for ch, s := range running {
				stop(ch, s)
				stopped = append(stopped, s)
			}
			for _, s := range stopped {
				<-s.done
			}
			return
		}
	}
}

// shardLoop keeps channel subscribed until ctx ends, then unsubscribes.
func (b *Bus) shardLoop(ctx context.Context, ch string, done chan struct{}) {
	defer close(done)
	key := subKey{false, ch}
	backoff := minBackoff
	// live: Redis confirmed the subscription, which has not ended since;
	// confirmed: it did, since the last call to Receive.
	var live, confirmed atomic.Bool
	for {
		hctx := rueidis.WithOnSubscriptionHook(ctx, func(s rueidis.PubSubSubscription) {
			if s.Channel != ch {
				return
			}
			b.mu.Lock()
			switch s.Kind {
			case "ssubscribe":
				b.acked[key] = true
				live.Store(true)
				confirmed.Store(true)
			case "sunsubscribe":
				delete(b.acked, key)
			}
			b.notifyLocked()
			b.mu.Unlock()
		})
		// The hook runs each time the subscription ends, also when the
		// client subscribes again by itself after a lost connection, and
		// after each attempt that failed (the slot is served elsewhere
		// and the client's view of the cluster does not say so yet): only
		// the end of a confirmed subscription is a reconnect.
		hctx = rueidis.WithOnReceiveReturnHook(hctx, func(err error, cc rueidis.CommandClient) error {
			b.mu.Lock()
			delete(b.acked, key)
			b.notifyLocked()
			b.mu.Unlock()
			if ctx.Err() != nil {
				uctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = cc.Do(uctx, cc.B().Sunsubscribe().Channel(ch).Build()).Error()
				cancel()
				return err
			}
			if live.Swap(false) {
				b.reconnects.Add(1)
				b.logLimited("subscribe", "cluster: sharded subscription lost; subscribing again", "channel", ch, "err", err)
			}
			return err
		})
		err := b.client.Receive(hctx, b.client.B().Ssubscribe().Channel(ch).Build(), func(m rueidis.PubSubMessage) {
			b.onMessage(rueidis.PubSubMessage{Channel: ch, Message: m.Message})
		})
		b.mu.Lock()
		delete(b.acked, key)
		b.notifyLocked()
		b.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("unsubscribed by the server (slot moved?)")
		}
		if confirmed.Swap(false) {
			// It worked until now: try again soon, and back off only if
			// that fails.
			backoff = minBackoff
		}
		b.logLimited("subscribe", "cluster: sharded subscription ended; subscribing again", "channel", ch, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// ---------------------------------------------------------------------------
// The adapter's side.

// roomChanged subscribes to, or leaves, the channel of a room created or
// deleted here, in the dynamic modes. It runs under the local adapter's
// lock: it only updates the bus's wanted set.
func (a *Adapter) roomChanged(room string, private, created bool) {
	if private && a.mode != DynamicPrivate {
		return
	}
	ch := a.bc + room + "#"
	if ch == a.resSelf {
		return
	}
	b := a.bus
	b.mu.Lock()
	if created {
		if b.channels[ch] == nil {
			b.channels[ch] = a
		}
	} else if b.channels[ch] == a {
		delete(b.channels, ch)
	}
	b.mu.Unlock()
	b.wakeSubscriber()
}

// shardedBroadcastChannel is the reference's computeChannel for a
// broadcast without acks.
func (a *Adapter) shardedBroadcastChannel(opts *core.BroadcastOptions) string {
	if len(opts.Rooms) == 1 {
		room := opts.Rooms[0]
		if a.mode == DynamicPrivate || a.mode == DynamicRooms && !looksLikeSocketID(room) {
			return a.bc + room + "#"
		}
	}
	return a.bc
}

// shardedMessage is {type, data, uid, nsp}.
func (a *Adapter) shardedMessage(typ int64, data *object) *object {
	m := newObject("type", typ)
	if data != nil {
		m.set("data", data)
	}
	m.set("uid", a.uid)
	m.set("nsp", a.name)
	return m
}

// encodeSharded writes a message as the reference does: MessagePack when
// a type that may carry binary does, JSON otherwise.
func encodeSharded(m *object) ([]byte, error) {
	typ, _ := m.int("type")
	switch typ {
	case msgBroadcast, msgBroadcastAck, msgFetchSocketsResponse, msgServerSideEmit, msgServerSideEmitResp:
		if d, _ := m.get("data"); hasBinary(d) {
			return encodeMsgpack(m)
		}
	}
	w := jsonWriter{mode: binBuffer}
	return w.append(nil, m), nil
}

func hasBinary(v any) bool {
	switch v := v.(type) {
	case []byte:
		return true
	case []any:
		for _, e := range v {
			if hasBinary(e) {
				return true
			}
		}
	case *object:
		for _, e := range v.vals {
			if hasBinary(e) {
				return true
			}
		}
	}
	return false
}

func (a *Adapter) publishSharded(channel string, m *object) {
	msg, err := encodeSharded(m)
	if err != nil {
		a.bus.failed.Add(1)
		a.bus.logLimited("encode", "cluster: message not published", "nsp", a.name, "err", err)
		return
	}
	a.bus.publish(channel, msg)
}

func (a *Adapter) encodeShardedBroadcast(p *core.Outgoing, opts *core.BroadcastOptions) ([]byte, error) {
	data, err := eventData(&p.Packet)
	if err != nil {
		return nil, err
	}
	packet := newObject("type", int64(sio.Event), "data", data)
	return encodeSharded(a.shardedMessage(msgBroadcast, newObject("packet", packet, "opts", wireOpts(opts, true))))
}

// sendRequest publishes a request given in the classic protocol's shape,
// translated for the sharded protocol when it is the one spoken.
func (a *Adapter) sendRequest(r *object) {
	if !a.sharded {
		a.publishJSON(a.req, r)
		return
	}
	typ, _ := r.int("type")
	id := r.str("requestId")
	var m *object
	switch typ {
	case reqRemoteJoin, reqRemoteLeave:
		t := int64(msgSocketsJoin)
		if typ == reqRemoteLeave {
			t = msgSocketsLeave
		}
		rooms, _ := r.get("rooms")
		m = a.shardedMessage(t, newObject("opts", r.obj("opts"), "rooms", rooms))
	case reqRemoteDisconnect:
		m = a.shardedMessage(msgDisconnectSockets, newObject("opts", r.obj("opts"), "close", r.bool("close")))
	case reqRemoteFetch:
		m = a.shardedMessage(msgFetchSockets, newObject("opts", r.obj("opts"), "requestId", id))
	case reqServerSideEmit:
		data, _ := r.get("data")
		d := newObject("packet", data)
		if id != "" {
			d.set("requestId", id)
		}
		m = a.shardedMessage(msgServerSideEmit, d)
	case reqBroadcast:
		packet := r.obj("packet")
		// The reference sends the packet without its namespace.
		pd, _ := packet.get("data")
		m = a.shardedMessage(msgBroadcast, newObject("packet", newObject("type", int64(sio.Event), "data", pd), "requestId", id, "opts", r.obj("opts")))
	default:
		a.bus.logLimited("unsupported", "cluster: request not part of the sharded protocol", "type", typ)
		return
	}
	a.publishSharded(a.bc, m)
}

// respondSharded publishes an answer given in the classic protocol's shape
// on the requester's response channel, translated.
func (a *Adapter) respondSharded(requester string, r *object) {
	id := r.str("requestId")
	var m *object
	typ, hasType := r.int("type")
	switch {
	case hasType && typ == reqServerSideEmit:
		d := newObject("requestId", id)
		if v, ok := r.get("data"); ok {
			d.set("packet", v)
		}
		m = a.shardedMessage(msgServerSideEmitResp, d)
	case hasType && typ == resClientCount:
		n, _ := r.get("clientCount")
		m = a.shardedMessage(msgBroadcastClientCount, newObject("requestId", id, "clientCount", n))
	case hasType && typ == resBroadcastAck:
		d := newObject("requestId", id)
		if v, ok := r.get("packet"); ok {
			d.set("packet", v)
		}
		m = a.shardedMessage(msgBroadcastAck, d)
	default:
		sockets, ok := r.get("sockets")
		if !ok {
			return // no other answer exists in the sharded protocol
		}
		m = a.shardedMessage(msgFetchSocketsResponse, newObject("requestId", id, "sockets", sockets))
	}
	a.publishSharded(a.bc+requester+"#", m)
}

// onSharded handles a message of the sharded protocol: translated to the
// classic shape, it takes the same paths.
func (a *Adapter) onSharded(channel, payload string) error {
	m, err := a.decode(payload)
	if err != nil {
		return err
	}
	typ, ok := m.int("type")
	if !ok {
		return errors.New("message without a type")
	}
	uid := m.str("uid")
	if uid == a.uid {
		return nil
	}
	a.sawNode(uid)
	if m.str("nsp") != a.name {
		return nil
	}
	d := m.obj("data")
	switch typ {
	case msgInitialHeartbeat, msgHeartbeat, msgAdapterClose:
		return nil
	case msgBroadcast:
		if d == nil {
			return errors.New("broadcast without data")
		}
		if id := d.str("requestId"); id != "" {
			return a.onRequestObj(newObject("uid", uid, "requestId", id, "type", int64(reqBroadcast), "packet", d.obj("packet"), "opts", d.obj("opts")))
		}
		packet := d.obj("packet")
		if packet == nil {
			return errors.New("broadcast without a packet")
		}
		if t, _ := packet.int("type"); t != int64(sio.Event) && t != int64(sio.BinaryEvent) {
			return fmt.Errorf("broadcast of packet type %d", t)
		}
		opts, err := readOpts(d.obj("opts"))
		if err != nil {
			return err
		}
		pd, _ := packet.get("data")
		p, err := eventPacket(a.name, pd)
		if err != nil {
			return err
		}
		a.MemoryAdapter.Broadcast(&core.Outgoing{Packet: p}, opts)
		return nil
	case msgSocketsJoin, msgSocketsLeave:
		if d == nil {
			return errors.New("request without data")
		}
		t := int64(reqRemoteJoin)
		if typ == msgSocketsLeave {
			t = reqRemoteLeave
		}
		rooms, _ := d.get("rooms")
		return a.onRequestObj(newObject("uid", uid, "type", t, "opts", orEmpty(d.obj("opts")), "rooms", rooms))
	case msgDisconnectSockets:
		if d == nil {
			return errors.New("request without data")
		}
		return a.onRequestObj(newObject("uid", uid, "type", int64(reqRemoteDisconnect), "opts", orEmpty(d.obj("opts")), "close", d.bool("close")))
	case msgFetchSockets:
		if d == nil {
			return errors.New("request without data")
		}
		return a.onRequestObj(newObject("uid", uid, "requestId", d.str("requestId"), "type", int64(reqRemoteFetch), "opts", d.obj("opts")))
	case msgServerSideEmit:
		if d == nil {
			return errors.New("request without data")
		}
		r := newObject("uid", uid, "type", int64(reqServerSideEmit))
		if id := d.str("requestId"); id != "" {
			r.set("requestId", id)
		}
		packet, _ := d.get("packet")
		r.set("data", packet)
		return a.onRequestObj(r)
	case msgFetchSocketsResponse, msgServerSideEmitResp, msgBroadcastClientCount, msgBroadcastAck:
		if d == nil {
			return errors.New("response without data")
		}
		return a.onShardedResponse(uid, typ, d)
	}
	return nil
}

func orEmpty(o *object) *object {
	if o == nil {
		return &object{}
	}
	return o
}

func (a *Adapter) onShardedResponse(uid string, typ int64, d *object) error {
	id := d.str("requestId")
	r := newObject("requestId", id, "uid", uid)
	switch typ {
	case msgFetchSocketsResponse:
		v, _ := d.get("sockets")
		r.set("sockets", v)
	case msgServerSideEmitResp:
		if v, ok := d.get("packet"); ok {
			r.set("data", v)
		}
	case msgBroadcastClientCount:
		r.set("type", int64(resClientCount))
		v, _ := d.get("clientCount")
		r.set("clientCount", v)
	case msgBroadcastAck:
		r.set("type", int64(resBroadcastAck))
		if v, ok := d.get("packet"); ok {
			r.set("packet", v)
		}
	}
	return a.onResponseObj(r)
}
