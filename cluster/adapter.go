package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/sio"
)

// The request types of the classic protocol.
const (
	reqSockets          = 0 // answered only: no longer sent by the reference
	reqAllRooms         = 1
	reqRemoteJoin       = 2
	reqRemoteLeave      = 3
	reqRemoteDisconnect = 4
	reqRemoteFetch      = 5
	reqServerSideEmit   = 6
	reqBroadcast        = 7 // a broadcast with acks
	resClientCount      = 8
	resBroadcastAck     = 9
)

// emitterUID is the uid of the reference's emitter, which is not a node.
const emitterUID = "emitter"

// nodeMemory is how long a node seen on the bus is remembered, to name it
// when it does not answer a request.
const nodeMemory = 10 * time.Minute

// ackRequestMax bounds how long the answers to a broadcast with acks and
// no timeout are awaited.
const ackRequestMax = 5 * time.Minute

// internalMaxDepth bounds values that this node encoded itself.
const internalMaxDepth = 1 << 12

// Adapter is the adapter of one namespace on a Bus: its local half is a
// core.MemoryAdapter, and it speaks to the same namespace on the other
// nodes. Besides core.Adapter it offers the requests with their typed
// errors (FetchSockets and AllRooms return a *TimeoutError).
type Adapter struct {
	*core.MemoryAdapter
	bus  *Bus
	nsp  *core.Namespace
	name string
	uid  string

	bc, pattern, req, res, resSelf string

	sharded bool
	mode    SubscriptionMode

	mu          sync.Mutex
	requests    map[string]*pending
	ackRequests map[string]*ackRequest
	seen        map[string]time.Time
	closed      bool
	closing     chan struct{}
	handlers    sync.WaitGroup // goroutines running user code for the bus
	running     int            // of those, under mu
}

type pending struct {
	typ      int
	expected int
	received int
	answered []string
	sockets  []core.SocketInfo
	rooms    map[string]struct{}
	done     chan struct{} // closed when every answer came
	timer    *time.Timer

	// ack takes the answers of a server-side emit, then at most one error
	// that ends it; ackMu makes its calls one at a time, and is taken
	// before a.mu.
	ack   func(core.Args, error)
	ackMu sync.Mutex
}

type ackRequest struct {
	clientCount func(int)
	ack         func(core.Args)
	timer       *time.Timer
}

func (b *Bus) newAdapter(nsp *core.Namespace) *Adapter {
	p := b.opts.Prefix
	name := nsp.Name()
	a := &Adapter{
		MemoryAdapter: core.NewLocalAdapter(nsp),
		bus:           b,
		nsp:           nsp,
		name:          name,
		uid:           randomID(6),
		bc:            p + "#" + name + "#",
		req:           p + "-request#" + name + "#",
		res:           p + "-response#" + name + "#",
		requests:      make(map[string]*pending),
		ackRequests:   make(map[string]*ackRequest),
		seen:          make(map[string]time.Time),
		closing:       make(chan struct{}),
	}
	if b.opts.Protocol == Sharded {
		a.sharded, a.mode = true, b.opts.SubscriptionMode
		a.uid = randomID(8)
		a.resSelf = a.bc + a.uid + "#"
		if a.mode != StaticChannels {
			a.MemoryAdapter.OnRoomChange(a.roomChanged)
		}
		b.register(a, []string{a.bc, a.resSelf}, nil)
		return a
	}
	a.pattern = globEscape(a.bc) + "*"
	a.resSelf = a.res + a.uid + "#"
	b.register(a, []string{a.req, a.res, a.resSelf}, []string{a.pattern})
	return a
}

// globEscape escapes the characters that are special in a Redis pattern.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			sb.WriteByte('\\')
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// UID is the adapter's id on the bus.
func (a *Adapter) UID() string { return a.uid }

// Close leaves the bus: pending requests end with ErrClosed, and Close
// waits for the handlers of server-side events it started.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	close(a.closing)
	for id, r := range a.ackRequests {
		r.timer.Stop()
		delete(a.ackRequests, id)
	}
	var acks []*pending
	for id, p := range a.requests {
		if p.timer != nil {
			p.timer.Stop()
		}
		if p.ack != nil {
			acks = append(acks, p)
		}
		delete(a.requests, id)
	}
	a.mu.Unlock()
	// Server-side emits waiting for answers end now; the other requests
	// see closing.
	for _, p := range acks {
		p.ackMu.Lock()
		p.ack(nil, ErrClosed)
		p.ackMu.Unlock()
	}
	a.bus.unregister(a)
	a.handlers.Wait()
	return nil
}

// ---------------------------------------------------------------------------
// Broadcasts.

// Broadcast delivers p to the local sockets at once, and publishes it for
// the other nodes unless opts.Flags.Local. Publishing never waits: a
// message that cannot be queued is dropped and counted.
func (a *Adapter) Broadcast(p *core.Outgoing, opts *core.BroadcastOptions) {
	if !opts.Flags.Local {
		var (
			msg []byte
			err error
		)
		if a.sharded {
			msg, err = a.encodeShardedBroadcast(p, opts)
		} else {
			msg, err = a.encodeBroadcast(p, opts)
		}
		if err != nil {
			a.bus.logLimited("encode", "cluster: broadcast not published", "nsp", a.name, "err", err)
			a.bus.failed.Add(1)
		} else {
			a.bus.publish(a.broadcastChannel(opts), msg)
		}
	}
	a.MemoryAdapter.Broadcast(p, opts)
}

func (a *Adapter) broadcastChannel(opts *core.BroadcastOptions) string {
	if a.sharded {
		return a.shardedBroadcastChannel(opts)
	}
	if len(opts.Rooms) == 1 {
		return a.bc + opts.Rooms[0] + "#"
	}
	return a.bc
}

// eventData is the bus form of an event's arguments: the array
// [event, ...args], binary inline.
func eventData(p *sio.Packet) (any, error) {
	return parseJSON(p.Data, p.Attachments, internalMaxDepth)
}

func (a *Adapter) busPacket(p *core.Outgoing) (*object, error) {
	data, err := eventData(&p.Packet)
	if err != nil {
		return nil, err
	}
	return newObject("type", int64(sio.Event), "data", data, "nsp", a.name), nil
}

// encodeBroadcast writes [uid, packet, opts] as the reference does.
func (a *Adapter) encodeBroadcast(p *core.Outgoing, opts *core.BroadcastOptions) ([]byte, error) {
	packet, err := a.busPacket(p)
	if err != nil {
		return nil, err
	}
	return encodeMsgpack([]any{a.uid, packet, wireOpts(opts, true)})
}

// wireOpts is the reference's form of broadcast options:
// {rooms, except, flags}.
func wireOpts(opts *core.BroadcastOptions, flags bool) *object {
	rooms := make([]any, len(opts.Rooms))
	for i, r := range opts.Rooms {
		rooms[i] = r
	}
	except := make([]any, 0, len(opts.Except))
	for i, r := range opts.Except {
		if !slices.Contains(opts.Except[:i], r) {
			except = append(except, r)
		}
	}
	o := newObject("rooms", rooms, "except", except)
	if flags {
		f := &object{}
		if opts.Flags.Volatile {
			f.set("volatile", true)
		}
		if opts.Flags.NoCompress {
			f.set("compress", false)
		}
		if opts.Flags.Timeout > 0 {
			f.set("timeout", opts.Flags.Timeout.Milliseconds())
		}
		o.set("flags", f)
	}
	return o
}

// readOpts reads broadcast options in the reference's form.
func readOpts(o *object) (*core.BroadcastOptions, error) {
	opts := &core.BroadcastOptions{}
	if o == nil {
		return opts, nil
	}
	var ok bool
	if opts.Rooms, ok = o.strings("rooms"); !ok {
		return nil, errors.New("opts.rooms is not a list of rooms")
	}
	if opts.Except, ok = o.strings("except"); !ok {
		return nil, errors.New("opts.except is not a list of rooms")
	}
	if f := o.obj("flags"); f != nil {
		opts.Flags.Volatile = f.bool("volatile")
		if v, present := f.get("compress"); present && v == false {
			opts.Flags.NoCompress = true
		}
		if ms, ok := f.int("timeout"); ok && ms > 0 {
			opts.Flags.Timeout = time.Duration(ms) * time.Millisecond
		}
	}
	return opts, nil
}

// eventPacket builds the Socket.IO packet of a bus packet's data array.
func eventPacket(nsp string, data any) (sio.Packet, error) {
	arr, ok := data.([]any)
	if !ok || len(arr) == 0 {
		return sio.Packet{}, errors.New("packet.data is not a non-empty array")
	}
	if _, ok := arr[0].(string); !ok {
		return sio.Packet{}, errors.New("packet.data does not start with an event name")
	}
	w := jsonWriter{mode: binPlaceholder}
	js := w.append(nil, arr)
	p := sio.Packet{Type: sio.Event, Namespace: nsp, Data: js}
	if len(w.atts) > 0 {
		p.Type = sio.BinaryEvent
		p.Attachments = w.atts
	}
	return p, nil
}

// BroadcastWithAck delivers p locally and, unless local, asks the other
// nodes to deliver it too: each answers with the number of its sockets
// reached (clientCount), then with their acks.
func (a *Adapter) BroadcastWithAck(p *core.Outgoing, opts *core.BroadcastOptions, clientCount func(int), ack func(core.Args)) {
	if !opts.Flags.Local {
		if err := a.publishBroadcastWithAck(p, opts, clientCount, ack); err != nil {
			a.bus.logLimited("encode", "cluster: broadcast with acks not published", "nsp", a.name, "err", err)
			a.bus.failed.Add(1)
		}
	}
	a.MemoryAdapter.BroadcastWithAck(p, opts, clientCount, ack)
}

func (a *Adapter) publishBroadcastWithAck(p *core.Outgoing, opts *core.BroadcastOptions, clientCount func(int), ack func(core.Args)) error {
	packet, err := a.busPacket(p)
	if err != nil {
		return err
	}
	id := randomID(8)
	req := newObject(
		"uid", a.uid,
		"requestId", id,
		"type", int64(reqBroadcast),
		"packet", packet,
		"opts", wireOpts(opts, true),
	)
	var msg []byte
	if !a.sharded {
		if msg, err = encodeMsgpack(req); err != nil {
			return err
		}
	}
	keep := opts.Flags.Timeout
	if keep <= 0 {
		keep = ackRequestMax
	}
	r := &ackRequest{clientCount: clientCount, ack: ack}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	a.ackRequests[id] = r
	// The answers may come until the acks' own timeout; after it the
	// requester has given up, and so does the adapter.
	r.timer = time.AfterFunc(keep, func() {
		a.mu.Lock()
		delete(a.ackRequests, id)
		a.mu.Unlock()
	})
	a.mu.Unlock()
	if a.sharded {
		a.sendRequest(req)
	} else {
		a.bus.publish(a.req, msg)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Requests without answers.

// AddSockets makes the matching sockets of every node join rooms.
func (a *Adapter) AddSockets(opts *core.BroadcastOptions, rooms []string) {
	if !opts.Flags.Local {
		a.sendRequest(newObject("uid", a.uid, "type", int64(reqRemoteJoin), "opts", wireOpts(opts, false), "rooms", anyStrings(rooms)))
	}
	a.MemoryAdapter.AddSockets(opts, rooms)
}

// DelSockets makes the matching sockets of every node leave rooms.
func (a *Adapter) DelSockets(opts *core.BroadcastOptions, rooms []string) {
	if !opts.Flags.Local {
		a.sendRequest(newObject("uid", a.uid, "type", int64(reqRemoteLeave), "opts", wireOpts(opts, false), "rooms", anyStrings(rooms)))
	}
	a.MemoryAdapter.DelSockets(opts, rooms)
}

// DisconnectSockets disconnects the matching sockets of every node.
func (a *Adapter) DisconnectSockets(opts *core.BroadcastOptions, close bool) {
	if !opts.Flags.Local {
		a.sendRequest(newObject("uid", a.uid, "type", int64(reqRemoteDisconnect), "opts", wireOpts(opts, false), "close", close))
	}
	a.MemoryAdapter.DisconnectSockets(opts, close)
}

func anyStrings(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func (a *Adapter) publishJSON(channel string, v any) {
	w := jsonWriter{mode: binBuffer}
	a.bus.publish(channel, w.append(nil, v))
}

func (a *Adapter) publishMsgpack(channel string, v any) {
	msg, err := encodeMsgpack(v)
	if err != nil {
		a.bus.failed.Add(1)
		a.bus.logLimited("encode", "cluster: message not published", "nsp", a.name, "err", err)
		return
	}
	a.bus.publish(channel, msg)
}

// ---------------------------------------------------------------------------
// Requests with answers.

// ServerCount is the number of nodes subscribed to the namespace's
// request channel, this one included, as Redis counts them.
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	return a.serverCount(ctx)
}

func (a *Adapter) serverCount(ctx context.Context) (int, error) {
	if a.sharded {
		return a.bus.numSub(ctx, "SHARDNUMSUB", a.bc)
	}
	return a.bus.numSub(ctx, "NUMSUB", a.req)
}

// FetchSockets lists the matching sockets of every node. When some node
// does not answer within the request timeout (opts.Flags.Timeout when set),
// it returns those found with a *TimeoutError.
func (a *Adapter) FetchSockets(ctx context.Context, opts *core.BroadcastOptions) ([]core.SocketInfo, error) {
	local, _ := a.MemoryAdapter.FetchSockets(ctx, opts)
	if opts.Flags.Local {
		return local, nil
	}
	p := &pending{typ: reqRemoteFetch}
	err := a.request(ctx, "fetchSockets", opts.Flags.Timeout, p, func(id string) any {
		return newObject("uid", a.uid, "requestId", id, "type", int64(reqRemoteFetch), "opts", wireOpts(opts, false))
	})
	return append(local, p.sockets...), err
}

// AllRooms lists the rooms of every node, as FetchSockets answers.
func (a *Adapter) AllRooms(ctx context.Context) ([]string, error) {
	local, _ := a.MemoryAdapter.AllRooms(ctx)
	if a.sharded {
		return local, ErrUnsupported
	}
	p := &pending{typ: reqAllRooms, rooms: make(map[string]struct{})}
	err := a.request(ctx, "allRooms", 0, p, func(id string) any {
		return newObject("uid", a.uid, "requestId", id, "type", int64(reqAllRooms))
	})
	for _, r := range local {
		p.rooms[r] = struct{}{}
	}
	out := make([]string, 0, len(p.rooms))
	for r := range p.rooms {
		out = append(out, r)
	}
	return out, err
}

// request asks the other nodes and waits for their answers, which the
// worker adds to p.
func (a *Adapter) request(ctx context.Context, op string, timeout time.Duration, p *pending, build func(id string) any) error {
	if timeout <= 0 {
		timeout = a.bus.opts.RequestTimeout
	}
	start := time.Now()
	n, err := a.serverCount(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return nil
	}
	id := randomID(8)
	p.expected = n - 1
	p.done = make(chan struct{})
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	a.requests[id] = p
	a.mu.Unlock()
	a.sendRequest(build(id).(*object))

	t := time.NewTimer(timeout - time.Since(start))
	defer t.Stop()
	var cause error
	select {
	case <-p.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
		cause = ctx.Err()
	case <-a.closing:
		cause = ErrClosed
	}
	a.mu.Lock()
	delete(a.requests, id)
	complete := p.received >= p.expected
	terr := a.timeoutErrorLocked(op, timeout, p)
	a.mu.Unlock()
	switch {
	case complete:
		return nil
	case cause != nil:
		return cause
	}
	a.bus.timeouts.Add(1)
	return terr
}

func (a *Adapter) timeoutErrorLocked(op string, timeout time.Duration, p *pending) *TimeoutError {
	e := &TimeoutError{Op: op, Timeout: timeout, Expected: p.expected, Received: p.received, Answered: slices.Clone(p.answered)}
	now := time.Now()
	for uid, at := range a.seen {
		if now.Sub(at) > nodeMemory {
			delete(a.seen, uid)
			continue
		}
		if !slices.Contains(p.answered, uid) {
			e.Missing = append(e.Missing, uid)
		}
	}
	slices.Sort(e.Missing)
	if len(e.Missing) > e.Expected-e.Received {
		// More silent nodes are known than answers are missing: some
		// left; name none rather than the wrong ones.
		e.Missing = nil
	}
	return e
}

// ServerSideEmit sends an event to the namespace on the other nodes. With
// ack non-nil, done is called at once with the number of other nodes, and
// ack with each node's answer as it comes. At timeout (RequestTimeout when
// timeout <= 0) without every answer, ack gets a *TimeoutError (Op
// "serverSideEmit", matching core.ErrAckTimeout) that names the nodes that
// did not answer, and later answers are dropped; when the adapter closes
// first, ack gets ErrClosed.
func (a *Adapter) ServerSideEmit(event string, args []any, timeout time.Duration, ack func(core.Args, error), done func(int)) error {
	data, err := serverSideData(event, args)
	if err != nil {
		return err
	}
	if ack == nil {
		a.sendRequest(newObject("uid", a.uid, "type", int64(reqServerSideEmit), "data", data))
		if done != nil {
			done(0)
		}
		return nil
	}
	if timeout <= 0 {
		timeout = a.bus.opts.RequestTimeout
	}
	// The timeout covers counting the nodes too.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	n, err := a.serverCount(ctx)
	cancel()
	if err != nil {
		return err
	}
	if n <= 1 {
		if done != nil {
			done(0)
		}
		return nil
	}
	id := randomID(8)
	p := &pending{typ: reqServerSideEmit, expected: n - 1, ack: ack}
	// Held until done ran: no ack, of the timer or of Close, comes first.
	p.ackMu.Lock()
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		p.ackMu.Unlock()
		return ErrClosed
	}
	a.requests[id] = p
	p.timer = time.AfterFunc(timeout-time.Since(start), func() {
		p.ackMu.Lock()
		defer p.ackMu.Unlock()
		a.mu.Lock()
		still := a.requests[id] == p
		delete(a.requests, id)
		var terr *TimeoutError
		if still {
			terr = a.timeoutErrorLocked("serverSideEmit", timeout, p)
		}
		a.mu.Unlock()
		if still {
			a.bus.timeouts.Add(1)
			ack(nil, terr)
		}
	})
	a.mu.Unlock()
	if done != nil {
		done(n - 1)
	}
	p.ackMu.Unlock()
	a.sendRequest(newObject("uid", a.uid, "requestId", id, "type", int64(reqServerSideEmit), "data", data))
	return nil
}

// serverSideData is [event, ...args] as a value; binary is written in
// JSON as Node writes a Buffer.
func serverSideData(event string, args []any) ([]any, error) {
	p, err := sio.NewEvent("/", event, args)
	if err != nil {
		return nil, err
	}
	v, err := parseJSON(p.Data, p.Attachments, internalMaxDepth)
	if err != nil {
		return nil, err
	}
	return v.([]any), nil
}

// ---------------------------------------------------------------------------
// What arrives.

func (a *Adapter) handle(m inMsg) {
	var err error
	switch {
	case a.sharded:
		err = a.onSharded(m.channel, m.payload)
	case m.pattern != "":
		err = a.onBroadcast(m.channel, m.payload)
	case m.channel == a.req:
		err = a.onRequest(m.payload)
	case m.channel == a.res || m.channel == a.resSelf:
		err = a.onResponse(m.payload)
	}
	if err != nil {
		a.bus.invalid.Add(1)
		a.bus.logLimited("invalid", "cluster: message ignored", "err", &MessageError{Channel: m.channel, Err: err})
	}
}

// maxSeen bounds the nodes remembered to name them in timeout errors.
const maxSeen = 1024

func (a *Adapter) sawNode(uid string) {
	if uid == "" || uid == a.uid || uid == emitterUID {
		return
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, known := a.seen[uid]; !known && len(a.seen) >= maxSeen {
		for id, at := range a.seen {
			if now.Sub(at) > nodeMemory {
				delete(a.seen, id)
			}
		}
		if len(a.seen) >= maxSeen {
			return
		}
	}
	a.seen[uid] = now
}

func (a *Adapter) decode(payload string) (*object, error) {
	var (
		v   any
		err error
	)
	if len(payload) > 0 && payload[0] == '{' {
		v, err = parseJSON([]byte(payload), nil, a.bus.opts.MaxDepth)
	} else {
		v, err = decodeMsgpack([]byte(payload), a.bus.opts.MaxDepth)
	}
	if err != nil {
		return nil, err
	}
	o, ok := v.(*object)
	if !ok {
		return nil, fmt.Errorf("a %T, not an object", v)
	}
	return o, nil
}

func (a *Adapter) onBroadcast(channel, payload string) error {
	if !strings.HasPrefix(channel, a.bc) {
		return nil
	}
	if room := strings.TrimSuffix(channel[len(a.bc):], "#"); room != "" && !a.HasRoom(room) {
		return nil // for a room with no socket here: not even decoded
	}
	if fromSelf(payload, a.uid) {
		return nil // our own, back from Redis: not even decoded
	}
	v, err := decodeMsgpack([]byte(payload), a.bus.opts.MaxDepth)
	if err != nil {
		return err
	}
	arr, ok := v.([]any)
	if !ok || len(arr) < 2 {
		return errors.New("broadcast is not [uid, packet, opts]")
	}
	uid, _ := arr[0].(string)
	if uid == a.uid {
		return nil
	}
	a.sawNode(uid)
	packet, ok := arr[1].(*object)
	if !ok {
		return errors.New("broadcast packet is not an object")
	}
	if nsp := packet.str("nsp"); nsp != "" && nsp != a.name || nsp == "" && a.name != "/" {
		return nil
	}
	var wo *object
	if len(arr) > 2 {
		wo, _ = arr[2].(*object)
	}
	opts, err := readOpts(wo)
	if err != nil {
		return err
	}
	if t, _ := packet.int("type"); t != int64(sio.Event) && t != int64(sio.BinaryEvent) {
		return fmt.Errorf("broadcast of packet type %d", t)
	}
	data, _ := packet.get("data")
	p, err := eventPacket(a.name, data)
	if err != nil {
		return err
	}
	a.MemoryAdapter.Broadcast(&core.Outgoing{Packet: p}, opts)
	return nil
}

// fromSelf reports whether a broadcast [uid, packet, opts] starts with
// uid (a fixstr), as this node writes its own.
func fromSelf(payload, uid string) bool {
	n := len(uid)
	return n < 32 && len(payload) > 2+n && payload[0] == 0x93 && payload[1] == 0xa0|byte(n) && payload[2:2+n] == uid
}

func (a *Adapter) onRequest(payload string) error {
	r, err := a.decode(payload)
	if err != nil {
		return err
	}
	return a.onRequestObj(r)
}

// onRequestObj handles a request in the classic protocol's shape.
func (a *Adapter) onRequestObj(r *object) error {
	typ, ok := r.int("type")
	if !ok {
		return errors.New("request without a type")
	}
	uid, id := r.str("uid"), r.str("requestId")
	a.sawNode(uid)
	mine := uid == a.uid
	switch typ {
	case reqSockets:
		if mine {
			return nil
		}
		rooms, _ := r.strings("rooms")
		a.respond(uid, newObject("requestId", id, "sockets", anyStrings(a.Sockets(rooms))))
	case reqAllRooms:
		if mine {
			return nil
		}
		rooms, _ := a.MemoryAdapter.AllRooms(context.Background())
		a.respond(uid, newObject("requestId", id, "rooms", anyStrings(rooms), "uid", a.uid))
	case reqRemoteJoin, reqRemoteLeave:
		if mine {
			return nil // applied when it was sent
		}
		if o := r.obj("opts"); o != nil {
			opts, err := readOpts(o)
			if err != nil {
				return err
			}
			rooms, ok := r.strings("rooms")
			if !ok {
				return errors.New("rooms is not a list of rooms")
			}
			if typ == reqRemoteJoin {
				a.MemoryAdapter.AddSockets(opts, rooms)
			} else {
				a.MemoryAdapter.DelSockets(opts, rooms)
			}
			return nil
		}
		// The older form: one socket, one room, answered when found.
		if s := a.nsp.Socket(r.str("sid")); s != nil {
			if typ == reqRemoteJoin {
				s.Join(r.str("room"))
			} else {
				s.Leave(r.str("room"))
			}
			a.respond(uid, newObject("requestId", id))
		}
	case reqRemoteDisconnect:
		if mine {
			return nil
		}
		closeConn := r.bool("close")
		if o := r.obj("opts"); o != nil {
			opts, err := readOpts(o)
			if err != nil {
				return err
			}
			// Disconnecting runs the application's disconnect handlers,
			// which may block: not on the worker.
			a.goHandler(func() { a.MemoryAdapter.DisconnectSockets(opts, closeConn) })
			return nil
		}
		if s := a.nsp.Socket(r.str("sid")); s != nil {
			a.goHandler(func() { s.Disconnect(closeConn) })
			a.respond(uid, newObject("requestId", id))
		}
	case reqRemoteFetch:
		if mine {
			return nil
		}
		opts, err := readOpts(r.obj("opts"))
		if err != nil {
			return err
		}
		local, _ := a.MemoryAdapter.FetchSockets(context.Background(), opts)
		sockets := make([]any, len(local))
		for i, s := range local {
			sockets[i] = socketValue(s, a.bus.opts.MaxDepth)
		}
		a.respond(uid, newObject("requestId", id, "sockets", sockets, "uid", a.uid))
	case reqServerSideEmit:
		if mine {
			return nil
		}
		return a.onServerSideEmit(r, id)
	case reqBroadcast:
		a.mu.Lock()
		_, own := a.ackRequests[id]
		a.mu.Unlock()
		if own || mine {
			return nil
		}
		return a.onBroadcastWithAck(r, uid, id)
	}
	return nil
}

// respond publishes an answer on the shared response channel, or on the
// requester's own when SpecificResponseChannel is set.
func (a *Adapter) respond(requester string, v *object) {
	if a.sharded {
		a.respondSharded(requester, v)
		return
	}
	a.publishJSON(a.responseChannel(requester), v)
}

func (a *Adapter) responseChannel(requester string) string {
	if a.bus.opts.SpecificResponseChannel && requester != "" {
		return a.res + requester + "#"
	}
	return a.res
}

// maxHandlers bounds the goroutines running application code for what
// other nodes asked (server-side events, disconnects) at once.
var maxHandlers = 1024

// goHandler runs fn, which may block, on a goroutine of its own; past
// maxHandlers at once the request is dropped and counted.
func (a *Adapter) goHandler(fn func()) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	if a.running >= maxHandlers {
		a.mu.Unlock()
		a.bus.dropped.Add(1)
		a.bus.logLimited("handlers", "cluster: too many handlers running; request dropped", "nsp", a.name, "max", maxHandlers)
		return
	}
	a.running++
	a.handlers.Add(1)
	a.mu.Unlock()
	go func() {
		defer func() {
			a.mu.Lock()
			a.running--
			a.mu.Unlock()
			a.handlers.Done()
		}()
		fn()
	}()
}

func (a *Adapter) onServerSideEmit(r *object, id string) error {
	d, _ := r.get("data")
	arr, ok := d.([]any)
	if !ok || len(arr) == 0 {
		return errors.New("server-side emit without [event, ...args]")
	}
	event, ok := arr[0].(string)
	if !ok {
		return errors.New("server-side emit without an event name")
	}
	args := make(core.Args, len(arr)-1)
	for i, v := range arr[1:] {
		w := jsonWriter{mode: binPlaceholder}
		js := w.append(nil, v)
		args[i] = sio.Raw{JSON: js, Attachments: w.atts}
	}
	var ack func(args ...any) error
	if id != "" {
		var once sync.Once
		ack = func(reply ...any) error {
			var err error = errors.New("cluster: server-side emit answered twice")
			once.Do(func() {
				var v any
				if len(reply) > 0 {
					data, e := serverSideData("ack", reply[:1])
					if e != nil {
						err = e
						return
					}
					v = data[1]
				}
				o := newObject("type", int64(reqServerSideEmit), "requestId", id)
				if len(reply) > 0 {
					o.set("data", v)
				}
				o.set("uid", a.uid)
				if a.sharded {
					a.respondSharded(r.str("uid"), o)
				} else {
					// Always on the shared channel, as the reference does.
					a.publishJSON(a.res, o)
				}
				err = nil
			})
			return err
		}
	}
	a.goHandler(func() { a.nsp.HandleServerSideEmit(event, args, ack) })
	return nil
}

func (a *Adapter) onBroadcastWithAck(r *object, requester, id string) error {
	packet := r.obj("packet")
	if packet == nil {
		return errors.New("broadcast with acks without a packet")
	}
	if nsp := packet.str("nsp"); nsp != "" && nsp != a.name {
		return nil
	}
	opts, err := readOpts(r.obj("opts"))
	if err != nil {
		return err
	}
	data, _ := packet.get("data")
	p, err := eventPacket(a.name, data)
	if err != nil {
		return err
	}
	p.ID, p.HasID = a.NextAckID(), true
	channel := a.responseChannel(requester)
	a.MemoryAdapter.BroadcastWithAck(&core.Outgoing{Packet: p}, opts,
		func(n int) {
			o := newObject("type", int64(resClientCount), "requestId", id, "clientCount", int64(n))
			if a.sharded {
				a.respondSharded(requester, o)
			} else {
				a.publishJSON(channel, o)
			}
		},
		func(args core.Args) {
			o := newObject("type", int64(resBroadcastAck), "requestId", id)
			if len(args) > 0 {
				v, err := parseJSON(args[0].JSON, args[0].Attachments, internalMaxDepth)
				if err != nil {
					a.bus.logLimited("encode", "cluster: ack not forwarded", "err", err)
					return
				}
				o.set("packet", v)
			}
			if a.sharded {
				a.respondSharded(requester, o)
			} else {
				a.publishMsgpack(channel, o)
			}
		})
	return nil
}

func (a *Adapter) onResponse(payload string) error {
	r, err := a.decode(payload)
	if err != nil {
		return err
	}
	return a.onResponseObj(r)
}

// onResponseObj handles an answer in the classic protocol's shape.
func (a *Adapter) onResponseObj(r *object) error {
	id := r.str("requestId")
	if id == "" {
		return nil
	}
	uid := r.str("uid")
	a.sawNode(uid)
	a.mu.Lock()
	if ar := a.ackRequests[id]; ar != nil {
		a.mu.Unlock()
		typ, _ := r.int("type")
		switch typ {
		case resClientCount:
			n, ok := r.int("clientCount")
			if !ok || n < 0 {
				return errors.New("client count is not a count")
			}
			ar.clientCount(int(n))
		case resBroadcastAck:
			var args core.Args
			if v, present := r.get("packet"); present {
				w := jsonWriter{mode: binPlaceholder}
				js := w.append(nil, v)
				args = core.Args{sio.Raw{JSON: js, Attachments: w.atts}}
			}
			ar.ack(args)
		}
		return nil
	}
	p := a.requests[id]
	if p == nil {
		a.mu.Unlock()
		return nil // another node's request, or one that timed out
	}
	if p.ack != nil {
		// Answers and the timeout reach ack one at a time, so that the
		// timeout's error counts exactly the answers ack got before it.
		a.mu.Unlock()
		p.ackMu.Lock()
		defer p.ackMu.Unlock()
		a.mu.Lock()
		if a.requests[id] != p {
			a.mu.Unlock()
			return nil // it timed out, or the adapter closed, meanwhile
		}
	}
	var sseAck func(core.Args, error)
	var sseArgs core.Args
	switch p.typ {
	case reqRemoteFetch:
		v, _ := r.get("sockets")
		arr, ok := v.([]any)
		if !ok {
			a.mu.Unlock()
			return errors.New("fetchSockets answer without sockets")
		}
		for _, s := range arr {
			if info, ok := socketInfo(s); ok {
				p.sockets = append(p.sockets, info)
			}
		}
	case reqAllRooms:
		rooms, ok := r.strings("rooms")
		if !ok {
			a.mu.Unlock()
			return errors.New("allRooms answer without rooms")
		}
		for _, room := range rooms {
			p.rooms[room] = struct{}{}
		}
	case reqServerSideEmit:
		sseAck = p.ack
		if v, present := r.get("data"); present {
			w := jsonWriter{mode: binPlaceholder}
			js := w.append(nil, v)
			sseArgs = core.Args{sio.Raw{JSON: js, Attachments: w.atts}}
		}
	}
	p.received++
	if uid != "" {
		p.answered = append(p.answered, uid)
	}
	if p.received == p.expected {
		delete(a.requests, id)
		if p.timer != nil {
			p.timer.Stop()
		}
		if p.done != nil {
			close(p.done)
		}
	}
	a.mu.Unlock()
	if sseAck != nil {
		sseAck(sseArgs, nil)
	}
	return nil
}
