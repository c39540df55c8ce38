package client

// A model-based test at the Socket.IO level. The server core and the client
// core are built as pair_test.go builds them (newPair: one virtual clock,
// upgrades allowed), but the links between them move one frame at a time,
// when an action says so: a polling exchange (one GET and one POST in flight
// at most) or a WebSocket, the first transport or the probe of an upgrade
// that then carries the session. Frames can so be delayed, dropped (a dropped
// frame breaks its link: both sides see their transport fail) or lost to a
// silent peer. Random operations of both sides and random faults run
// against a model that knows what each side emitted and on which link, what
// each ack callback may be called with, and what explains each disconnect.

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/eio"
)

var (
	errLinkBroken  = errors.New("link broken")
	errDialRefused = errors.New("connection refused")
	errPollAborted = errors.New("poll aborted")
)

// How the receiver of an event with an ack answers it.
const (
	modeAnswer = "answer" // at once
	modeLate   = "late"   // when an action says so
	modeNever  = "never"
)

var modes = []string{modeAnswer, modeLate, modeNever}

type mGet uint8

const (
	mGetNone    mGet = iota
	mGetPending      // the poll waits at the server
	mGetResp         // its response is on the way to the client
	mGetLost         // sent into a silent link: never answered
)

type mFrame struct {
	data   []byte
	binary bool
}

type mWS struct {
	probe    bool // opened as the probe of an upgrade
	s2c, c2s []mFrame
}

// mLink is one Engine.IO session: the client's Engine, the server's Conn,
// and the network between them.
type mLink struct {
	id     int
	e      *Engine
	c      *core.Conn // nil when the dial was refused
	dialAt time.Time
	woken  bool // the Conn called its wake function

	get     mGet
	getBody []byte
	post    []byte
	ws      *mWS

	silentSrv, silentCli bool // that side's output is lost from now on
	broken               bool // a frame was dropped
	cliEnded, srvEnded   bool // that side ended its transport

	// What explains a close.
	cliMayErr, cliMayClose, cliForced bool
	srvMayErr, srvMayClose, srvForced bool
	mayForce                          bool // the client sent what the server closes the connection for

	// The heartbeat as the protocol defines it.
	opened      bool
	cliLastPing time.Time // or the handshake
	srvLastPong time.Time // or the session's start
	pingOut     bool
	pingAt      time.Time

	srv     map[string]*mSrvSock // the server's connected sockets by namespace
	srvDisc map[string]bool      // a server DISCONNECT the client has not handled yet
	cliDisc map[string]int       // client DISCONNECTs the server has not handled yet
	orphan  map[string]bool      // the client left while its CONNECT was in flight
}

func (l *mLink) settled() bool {
	return l.c == nil || (l.cliEnded && l.srvEnded && l.ws == nil && l.post == nil && l.get != mGetResp)
}

type mSrvSock struct {
	nsp   string
	s     *core.Socket
	l     *mLink
	rooms map[string]bool
	open  bool
}

type mCliSock struct {
	nsp       string
	s         *Socket
	connected bool
	awaiting  bool      // Connect was called: OnConnect or OnConnectError is due
	disc      int       // disconnects seen
	buffered  []*mEvent // emitted while not connected, not sent yet
}

type mEvent struct {
	dir       byte // 'c': client to server; 's': server to client
	nsp       string
	seq       int
	name      string
	mode      string
	links     []*mLink // the links it went out on
	sent      bool
	delivered bool
	mayLose   bool
	ack       *mAck
	bc        *mBcast
}

type mStream struct {
	evs  []*mEvent
	last map[*mLink]int // the last delivered on each link
}

type mAck struct {
	ev         *mEvent
	deadline   time.Time
	emitting   bool
	emitted    bool
	emitErr    error
	calls      int
	syncErr    error
	answered   bool
	answeredOn *mLink // the link the answer went out on, toward this ack's table
	cs         *mCliSock
	discAt     int
	ss         *mSrvSock
}

type mBcast struct {
	ev       *mEvent
	targets  []*mSrvSock
	deadline time.Time
	calls    int
	answers  int
}

type mLateSrv struct {
	e  *core.Event
	ev *mEvent
	ss *mSrvSock
}

type mLateCli struct {
	e  *Event
	ev *mEvent
	cs *mCliSock
}

type model struct {
	*pair
	t     *rapid.T
	stats map[string]int
	log   []string
	errs  []string

	pi, pt      time.Duration
	pollMax     int
	srvMaxQ     int
	cliMaxQ     int
	maxBuf      int
	openTimeout time.Duration
	preOpenBeat time.Duration // the client's heartbeat before the handshake
	backoff     Backoff
	horizon     time.Duration // longer than any timer the model sets

	links  []*mLink
	cur    *mLink // the link of the manager's session, or of its last one
	byConn map[*core.Conn]*mLink
	inLink *mLink // the link delivering to the client now

	socks    []*mCliSock
	srvSocks []*mSrvSock
	streams  map[string]*mStream
	acks     []*mAck
	bcasts   []*mBcast
	srvLate  []mLateSrv
	cliLate  []mLateCli

	rndState     uint64
	rndCalls     int
	lastRnd      float64
	attempts     int
	reconnecting bool
	expReconnect time.Time
	refuse       int

	cliWoken, srvWoken bool

	inCliDisc  *mCliSock
	inSrvDisc  *mSrvSock
	inSrvClose *mLink
	closing    bool // Manager.Close
	srvClosing bool // Server.Close
}

// mChance is true about once in n draws; it shrinks to false.
func mChance(t *rapid.T, label string, n int) bool {
	return rapid.IntRange(0, n-1).Draw(t, label) == n/2
}

func (p *model) logf(format string, args ...any) {
	p.log = append(p.log, fmt.Sprintf("%v ", p.now.Sub(t0))+fmt.Sprintf(format, args...))
}

// failf records a violation; check reports it. Callbacks run inside the
// cores, where failing at once would unwind through their code.
func (p *model) failf(format string, args ...any) {
	msg := fmt.Sprintf("at %v: ", p.now.Sub(t0)) + fmt.Sprintf(format, args...)
	p.logf("FAIL %s", msg)
	p.errs = append(p.errs, msg)
}

func (p *model) count(what string) {
	if p.stats != nil {
		p.stats[what]++
	}
}

func (p *model) locked(f func()) {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	f()
}

// rand is the manager's jitter source: the model knows every draw.
func (p *model) rand() float64 {
	p.rndState = p.rndState*6364136223846793005 + 1442695040888963407
	r := float64(p.rndState>>11) / (1 << 53)
	p.rndCalls++
	p.lastRnd = r
	return r
}

func newModel(tt *testing.T, t *rapid.T) *model {
	p := &model{t: t, byConn: map[*core.Conn]*mLink{}, streams: map[string]*mStream{}}
	msDraw := func(lo, hi int, label string) time.Duration {
		return time.Duration(rapid.IntRange(lo, hi).Draw(t, label)) * ms
	}
	scfg := core.Config{
		Engine: eio.Config{
			PingInterval:     msDraw(100, 1000, "pingInterval"),
			PingTimeout:      msDraw(50, 800, "pingTimeout"),
			UpgradeTimeout:   msDraw(100, 2000, "serverUpgradeTimeout"),
			MaxQueuedPackets: rapid.IntRange(8, 60).Draw(t, "serverMaxQueued"),
		},
		ConnectTimeout: msDraw(300, 3000, "connectTimeout"),
		Wake:           func() { p.srvWoken = true },
	}
	ccfg := Config{
		Engine: eio.Config{
			UpgradeTimeout:   msDraw(100, 2000, "clientUpgradeTimeout"),
			MaxQueuedPackets: rapid.IntRange(8, 60).Draw(t, "clientMaxQueued"),
		},
		Timeout:              msDraw(300, 3000, "openTimeout"),
		ReconnectionDelay:    msDraw(20, 800, "reconnectionDelay"),
		ReconnectionDelayMax: msDraw(20, 2000, "reconnectionDelayMax"),
		RandomizationFactor:  rapid.SampledFrom([]float64{-1, 0.25, 0.5, 1}).Draw(t, "jitter"),
		MaxBufferedPackets:   rapid.IntRange(1, 6).Draw(t, "maxBuffered"),
		Wake:                 func() { p.cliWoken = true },
	}
	tr := eio.Polling
	if mChance(t, "websocketFirst", 4) {
		tr = eio.WebSocket
	}
	p.pair = newPair(tt, tr, scfg, ccfg)
	// newPair pins the jitter to 0; the model draws it, and knows each draw.
	p.rndState = rapid.Uint64().Draw(t, "seed")
	p.m.cfg.Rand = p.rand
	p.pollMax = rapid.IntRange(1, 400).Draw(t, "pollMax")

	se, cc := p.srv.Config(), p.m.Config()
	p.pi, p.pt = se.Engine.PingInterval, se.Engine.PingTimeout
	p.srvMaxQ, p.cliMaxQ = se.Engine.MaxQueuedPackets, cc.Engine.MaxQueuedPackets
	p.maxBuf = cc.MaxBufferedPackets
	p.openTimeout = cc.Timeout
	p.preOpenBeat = cc.Engine.PingInterval + cc.Engine.PingTimeout
	p.backoff = Backoff{Min: cc.ReconnectionDelay, Max: cc.ReconnectionDelayMax, Factor: 2, Jitter: cc.RandomizationFactor}
	p.horizon = 4*(p.pi+p.pt) + cc.Timeout + cc.ReconnectionDelayMax + se.ConnectTimeout +
		se.Engine.UpgradeTimeout + cc.Engine.UpgradeTimeout + sec
	p.logf("server %+v, connect timeout %v; client %+v on %v; poll max %d", se.Engine, se.ConnectTimeout, cc.Engine, tr, p.pollMax)

	for _, nsp := range []string{"/", "/a"} {
		p.srv.Of(nsp).OnConnection(func(s *core.Socket) { p.srvConnected(nsp, s) })
	}
	deny := p.srv.Of("/deny")
	deny.Use(func(*core.Socket) error {
		p.count("refusals")
		return &core.ConnectError{Message: "denied", Data: map[string]int{"code": 7}}
	})
	deny.OnConnection(func(*core.Socket) { p.failf("/deny: a socket got past the middleware") })

	for _, nsp := range []string{"/", "/a", "/deny"} {
		cs := &mCliSock{nsp: nsp, s: p.m.Socket(nsp)}
		p.socks = append(p.socks, cs)
		cs.s.On("ev", func(e *Event) { p.cliEvent(cs, e, "ev") })
		cs.s.On("bc", func(e *Event) { p.cliEvent(cs, e, "bc") })
		cs.s.OnConnect(func() { p.cliConnected(cs) })
		cs.s.OnConnectError(func(err error) { p.cliConnectError(cs, err) })
		cs.s.OnDisconnect(func(r string) { p.cliDisconnected(cs, r) })
	}
	p.m.OnOpen(p.cliOpen)
	p.m.OnClose(p.cliClose)
	p.m.OnError(p.cliError)
	p.m.OnReconnectAttempt(p.cliReconnectAttempt)
	p.m.OnReconnect(p.cliReconnect)
	return p
}

func (p *model) sock(nsp string) *mCliSock {
	for _, cs := range p.socks {
		if cs.nsp == nsp {
			return cs
		}
	}
	panic(nsp)
}

func (p *model) anyActive() bool {
	for _, cs := range p.socks {
		if cs.s.Active() {
			return true
		}
	}
	return false
}

// The streams of events: one per direction and namespace, numbered in emit
// order.

func (p *model) stream(dir byte, nsp string) *mStream {
	k := string(dir) + nsp
	st := p.streams[k]
	if st == nil {
		st = &mStream{last: map[*mLink]int{}}
		p.streams[k] = st
	}
	return st
}

func (p *model) newEvent(dir byte, nsp, name, mode string) *mEvent {
	st := p.stream(dir, nsp)
	ev := &mEvent{dir: dir, nsp: nsp, seq: len(st.evs), name: name, mode: mode}
	st.evs = append(st.evs, ev)
	return ev
}

func linkIDs(ls []*mLink) []int {
	out := make([]int, len(ls))
	for i, l := range ls {
		out[i] = l.id
	}
	return out
}

// receive checks an event delivered on link l: emitted, sent on l, once,
// in order among those of l, and none sent before it on l missing. Two
// links have no order between them: a request of a session the client has
// left may still be in flight.
func (p *model) receive(dir byte, nsp string, seq int, l *mLink, name string) *mEvent {
	who := "client"
	if dir == 'c' {
		who = "server"
	}
	st := p.stream(dir, nsp)
	if seq < 0 || seq >= len(st.evs) {
		p.failf("%s %s: %s #%d was never emitted", who, nsp, name, seq)
		return nil
	}
	ev := st.evs[seq]
	lid := -1
	if l != nil {
		lid = l.id
	}
	last, ok := st.last[l]
	if !ok {
		last = -1
	}
	switch {
	case ev.name != name:
		p.failf("%s %s: #%d arrived as %q, emitted as %q", who, nsp, seq, name, ev.name)
		return nil
	case !ev.sent:
		p.failf("%s %s: #%d arrived before it was sent", who, nsp, seq)
		return nil
	case ev.delivered:
		p.failf("%s %s: #%d delivered twice", who, nsp, seq)
		return nil
	case seq <= last:
		p.failf("%s %s: #%d after #%d on link %d: reordered", who, nsp, seq, last, lid)
		return nil
	case !slices.Contains(ev.links, l):
		p.failf("%s %s: #%d arrived on link %d, sent on %v", who, nsp, seq, lid, linkIDs(ev.links))
		return nil
	}
	for _, o := range st.evs[last+1 : seq] {
		if o.sent && !o.delivered && !o.mayLose && slices.Contains(o.links, l) {
			p.failf("%s %s: #%d arrived, #%d sent before it on link %d is missing", who, nsp, seq, o.seq, lid)
		}
	}
	ev.delivered, st.last[l] = true, seq
	p.count("events delivered to the " + who)
	return ev
}

// The server side.

func (p *model) srvConnected(nsp string, s *core.Socket) {
	l := p.byConn[s.Conn()]
	if l == nil {
		p.failf("server %s: a socket on an unknown connection", nsp)
		return
	}
	if old := l.srv[nsp]; old != nil && old.open {
		p.failf("server %s: a second socket on link %d", nsp, l.id)
	}
	ss := &mSrvSock{nsp: nsp, s: s, l: l, rooms: map[string]bool{s.ID(): true, "all": true}, open: true}
	l.srv[nsp] = ss
	p.srvSocks = append(p.srvSocks, ss)
	p.logf("server %s: socket %s on link %d", nsp, s.ID(), l.id)
	p.count("server sockets")
	s.Join("all")
	s.On("ev", func(e *core.Event) { p.srvEvent(ss, e) })
	s.OnDisconnect(func(r string) { p.srvDisconnected(ss, r) })
}

func (p *model) srvEvent(ss *mSrvSock, e *core.Event) {
	var seq int
	var mode string
	if err := e.Bind(&seq, &mode); err != nil {
		p.failf("server %s: event args: %v", ss.nsp, err)
		return
	}
	p.logf("server %s: ev #%d (link %d)", ss.nsp, seq, ss.l.id)
	ev := p.receive('c', ss.nsp, seq, ss.l, "ev")
	if ev == nil {
		return
	}
	if e.WantsAck() != (ev.ack != nil) {
		p.failf("server %s: #%d wants an ack: %v", ss.nsp, seq, e.WantsAck())
		return
	}
	if ev.ack == nil {
		return
	}
	switch mode {
	case modeAnswer:
		p.srvAnswer(ss, ev, e)
	case modeLate:
		p.srvLate = append(p.srvLate, mLateSrv{e, ev, ss})
	}
}

func (p *model) srvAnswer(ss *mSrvSock, ev *mEvent, e *core.Event) {
	err := e.Ack(ev.seq)
	p.logf("server %s: answers #%d: %v", ss.nsp, ev.seq, err)
	switch {
	case err == nil:
		ev.ack.answered, ev.ack.answeredOn = true, ss.l
	case errors.Is(err, core.ErrDisconnected):
		if ss.s.Connected() {
			p.failf("server %s: Ack says disconnected on a connected socket", ss.nsp)
		}
	case errors.Is(err, eio.ErrClosed), errors.Is(err, eio.ErrSlowConsumer):
	default:
		p.failf("server %s: Ack: %v", ss.nsp, err)
	}
}

// srvSession reads the server session's close cause and queue.
func srvSession(c *core.Conn) (cause error, queued int) {
	c.Session(func(s *eio.Session) { cause, queued = s.Cause(), s.QueuedPackets() })
	return
}

func (p *model) srvDisconnected(ss *mSrvSock, r string) {
	l := ss.l
	p.logf("server %s: socket %s disconnected: %s", ss.nsp, ss.s.ID(), r)
	p.count("server disconnect: " + r)
	if !ss.open {
		p.failf("server %s: disconnected twice", ss.nsp)
	}
	ss.open = false
	if l.srv[ss.nsp] == ss {
		delete(l.srv, ss.nsp)
	}
	ok := false
	switch r {
	case "client namespace disconnect":
		if l.cliDisc[ss.nsp] > 0 {
			l.cliDisc[ss.nsp]--
			ok = true
		}
	case "server namespace disconnect":
		ok = p.inSrvDisc == ss || p.inSrvClose == l
	case "forced close":
		ok = l.srvForced || l.mayForce
	case "transport close":
		ok = l.srvMayClose || l.e.Closed()
	case "transport error":
		cause, _ := srvSession(l.c)
		ok = l.srvMayErr || errors.Is(cause, eio.ErrSlowConsumer)
	case "ping timeout":
		ok = l.pingOut && !p.now.Before(l.pingAt.Add(p.pt))
		if !ok {
			p.failf("server %s: ping timeout %v after the ping (outstanding %v), %v after the last pong",
				ss.nsp, p.now.Sub(l.pingAt), l.pingOut, p.now.Sub(l.srvLastPong))
			return
		}
	case "server shutting down":
		ok = p.srvClosing
	}
	if !ok {
		p.failf("server %s: disconnect %q unexplained on link %d", ss.nsp, r, l.id)
	}
	if len(ss.s.Rooms()) != 0 {
		p.failf("server %s: a disconnected socket is still in rooms %v", ss.nsp, ss.s.Rooms())
	}
}

func (p *model) srvAckDone(a *mAck, args core.Args, err error) {
	a.calls++
	ev := a.ev
	p.logf("server ack %s#%d: %v %v", ev.nsp, ev.seq, args, err)
	p.count(fmt.Sprintf("server acks: %v", err))
	if a.calls > 1 {
		p.failf("server ack %s#%d called twice: %v", ev.nsp, ev.seq, err)
		return
	}
	if a.emitting {
		a.syncErr = err
		if err == nil {
			p.failf("server ack %s#%d answered during its emit", ev.nsp, ev.seq)
		}
		return
	}
	if a.emitErr != nil {
		p.failf("server ack %s#%d called after its emit failed with %v", ev.nsp, ev.seq, a.emitErr)
	}
	switch {
	case err == nil:
		var seq int
		if !a.answered {
			p.failf("server ack %s#%d: an answer the client never gave", ev.nsp, ev.seq)
		} else if args.Bind(&seq) != nil || seq != ev.seq {
			p.failf("server ack %s#%d: answer %v", ev.nsp, ev.seq, args)
		}
	case errors.Is(err, core.ErrAckTimeout):
		if a.deadline.IsZero() || p.now.Before(a.deadline) {
			p.failf("server ack %s#%d timed out %v before its deadline (%v)", ev.nsp, ev.seq, a.deadline.Sub(p.now), !a.deadline.IsZero())
		}
	case errors.Is(err, core.ErrDisconnected):
		if a.ss.s.Connected() {
			p.failf("server ack %s#%d: disconnected, on a connected socket", ev.nsp, ev.seq)
		}
	default:
		p.failf("server ack %s#%d: %v", ev.nsp, ev.seq, err)
	}
}

func (p *model) bcAckDone(b *mBcast, rs []core.Args, err error) {
	b.calls++
	ev := b.ev
	p.logf("broadcast ack %s#%d: %d answers, %v", ev.nsp, ev.seq, len(rs), err)
	p.count(fmt.Sprintf("broadcast acks: %v", err))
	if b.calls > 1 {
		p.failf("broadcast ack %s#%d called twice", ev.nsp, ev.seq)
		return
	}
	for _, a := range rs {
		var seq int
		if a.Bind(&seq) != nil || seq != ev.seq {
			p.failf("broadcast ack %s#%d: answer %v", ev.nsp, ev.seq, a)
		}
	}
	if len(rs) > b.answers {
		p.failf("broadcast ack %s#%d: %d answers, the client gave %d", ev.nsp, ev.seq, len(rs), b.answers)
	}
	switch {
	case err == nil:
		if len(rs) != len(b.targets) {
			p.failf("broadcast ack %s#%d: complete with %d answers of %d", ev.nsp, ev.seq, len(rs), len(b.targets))
		}
	case errors.Is(err, core.ErrAckTimeout):
		if p.now.Before(b.deadline) {
			p.failf("broadcast ack %s#%d timed out %v early", ev.nsp, ev.seq, b.deadline.Sub(p.now))
		}
	default:
		p.failf("broadcast ack %s#%d: %v", ev.nsp, ev.seq, err)
	}
}

// The client side.

func (p *model) cliEvent(cs *mCliSock, e *Event, name string) {
	var seq int
	var mode string
	if err := e.Bind(&seq, &mode); err != nil {
		p.failf("client %s: event args: %v", cs.nsp, err)
		return
	}
	l := p.cur
	if p.inLink != l {
		p.failf("client %s: %s #%d outside a delivery of the current link", cs.nsp, name, seq)
	}
	p.logf("client %s: %s #%d (link %d)", cs.nsp, name, seq, l.id)
	ev := p.receive('s', cs.nsp, seq, l, name)
	if ev == nil {
		return
	}
	if e.WantsAck() != (ev.ack != nil || ev.bc != nil) {
		p.failf("client %s: #%d wants an ack: %v", cs.nsp, seq, e.WantsAck())
		return
	}
	if !e.WantsAck() {
		return
	}
	switch mode {
	case modeAnswer:
		p.cliAnswer(cs, ev, e)
	case modeLate:
		p.cliLate = append(p.cliLate, mLateCli{e, ev, cs})
	}
}

func (p *model) cliAnswer(cs *mCliSock, ev *mEvent, e *Event) {
	l := p.cur
	connected := cs.s.Connected()
	err := e.Ack(ev.seq)
	p.logf("client %s: answers #%d: %v", cs.nsp, ev.seq, err)
	switch {
	case err == nil:
		if !connected {
			p.failf("client %s: Ack sent on a disconnected socket", cs.nsp)
		}
		if l.srvDisc[cs.nsp] {
			l.mayForce = true
		}
		if a := ev.ack; a != nil && a.ss.l == l {
			a.answered, a.answeredOn = true, l
		}
		if ev.bc != nil {
			ev.bc.answers++
		}
	case errors.Is(err, ErrDisconnected):
		if connected {
			p.failf("client %s: Ack says disconnected on a connected socket", cs.nsp)
		}
	case errors.Is(err, eio.ErrSlowConsumer), errors.Is(err, eio.ErrClosed):
		// The session closed, later in what is being handled.
	default:
		p.failf("client %s: Ack: %v", cs.nsp, err)
	}
}

func (p *model) cliConnected(cs *mCliSock) {
	l := p.cur
	p.logf("client %s: connected as %s (link %d)", cs.nsp, cs.s.ID(), l.id)
	p.count("client connects")
	if cs.nsp == "/deny" {
		p.failf("client /deny: connected")
	}
	if cs.connected {
		p.failf("client %s: connected twice", cs.nsp)
	}
	cs.connected = true
	cs.awaiting = false
	// The events buffered meanwhile went out before the connect handlers
	// ran, but for those a closing session refused.
	var left int
	p.locked(func() { left = len(cs.s.sendBuf) })
	k := len(cs.buffered) - left
	if k < 0 {
		p.failf("client %s: %d events buffered, the model knows %d", cs.nsp, left, len(cs.buffered))
		return
	}
	for _, ev := range cs.buffered[:k] {
		ev.sent = true
		ev.links = append(ev.links, l)
		if ev.ack != nil {
			ev.ack.discAt = cs.disc
		}
	}
	cs.buffered = slices.Clone(cs.buffered[k:])
	if k > 0 && l.srvDisc[cs.nsp] {
		l.mayForce = true
	}
}

func (p *model) cliConnectError(cs *mCliSock, err error) {
	p.logf("client %s: connect error %v", cs.nsp, err)
	cs.awaiting = false
	var ce *ConnectError
	var cf *ConnectFailure
	switch {
	case errors.As(err, &ce):
		p.count("client refusals")
		var data struct{ Code int }
		if cs.nsp != "/deny" || ce.Message != "denied" {
			p.failf("client %s: refused: %q", cs.nsp, ce.Message)
		} else if err := ce.Data.Bind(&data); err != nil || data.Code != 7 {
			p.failf("client %s: refusal data %s: %v", cs.nsp, ce.Data.JSON, err)
		}
		if cs.s.Active() {
			p.failf("client %s: active after a refusal", cs.nsp)
		}
	case errors.As(err, &cf):
	case errors.Is(err, ErrDisconnected):
		// Ended by the client, or by the server's DISCONNECT of the socket
		// the client left, that it takes for this attempt's.
		if p.inCliDisc != cs && !p.closing && (p.cur == nil || !p.cur.srvDisc[cs.nsp]) {
			p.failf("client %s: attempt ended by a disconnect nobody asked for", cs.nsp)
		}
	default:
		p.failf("client %s: connect error %v", cs.nsp, err)
	}
}

func (p *model) cliPingTimeoutOK(l *mLink) bool {
	if l.opened {
		return !p.now.Before(l.cliLastPing.Add(p.pi + p.pt))
	}
	return !p.now.Before(l.dialAt.Add(p.preOpenBeat))
}

func (p *model) cliSlow(l *mLink) bool {
	var cause error
	p.locked(func() { cause = l.e.sess.Cause() })
	return errors.Is(cause, eio.ErrSlowConsumer)
}

func (p *model) cliDisconnected(cs *mCliSock, r string) {
	l := p.cur
	p.logf("client %s: disconnected: %s", cs.nsp, r)
	p.count("client disconnect: " + r)
	if !cs.connected {
		p.failf("client %s: disconnected while not connected", cs.nsp)
	}
	cs.connected = false
	cs.disc++
	ok := false
	switch r {
	case ReasonServerDisconnect:
		ok = l.srvDisc[cs.nsp]
	case ReasonClientDisconnect:
		ok = p.inCliDisc == cs || p.closing
	case ReasonPingTimeout:
		ok = p.cliPingTimeoutOK(l)
		if !ok {
			p.failf("client %s: ping timeout %v after the last ping", cs.nsp, p.now.Sub(l.cliLastPing))
			return
		}
	case ReasonTransportClose:
		ok = l.cliMayClose || l.c.Closed()
	case ReasonTransportError:
		ok = l.cliMayErr || p.cliSlow(l)
	case ReasonForcedClose:
		ok = l.cliForced
	}
	if !ok {
		p.failf("client %s: disconnect %q unexplained on link %d", cs.nsp, r, l.id)
	}
}

func (p *model) cliAckDone(a *mAck, args Args, err error) {
	a.calls++
	ev := a.ev
	p.logf("client ack %s#%d: %v %v", ev.nsp, ev.seq, args, err)
	p.count(fmt.Sprintf("client acks: %v", err))
	if a.calls > 1 {
		p.failf("client ack %s#%d called twice: %v", ev.nsp, ev.seq, err)
		return
	}
	if !a.emitted || a.emitErr != nil {
		p.failf("client ack %s#%d called, its emit returned %v (returned: %v)", ev.nsp, ev.seq, a.emitErr, a.emitted)
	}
	switch {
	case err == nil:
		var seq int
		if !a.answered {
			p.failf("client ack %s#%d: an answer the server never gave", ev.nsp, ev.seq)
		} else if args.Bind(&seq) != nil || seq != ev.seq {
			p.failf("client ack %s#%d: answer %v", ev.nsp, ev.seq, args)
		}
	case errors.Is(err, ErrAckTimeout):
		if a.deadline.IsZero() || p.now.Before(a.deadline) {
			p.failf("client ack %s#%d timed out %v before its deadline (%v)", ev.nsp, ev.seq, a.deadline.Sub(p.now), !a.deadline.IsZero())
		}
		if i := slices.Index(a.cs.buffered, ev); i >= 0 {
			// Never sent: it leaves the buffer.
			a.cs.buffered = slices.Delete(a.cs.buffered, i, i+1)
			ev.mayLose = true
		}
	case errors.Is(err, ErrDisconnected):
		if !ev.sent {
			p.failf("client ack %s#%d: disconnected, but its event is still buffered", ev.nsp, ev.seq)
		} else if a.cs.disc == a.discAt {
			p.failf("client ack %s#%d: disconnected, but its socket was not", ev.nsp, ev.seq)
		}
	case errors.Is(err, ErrClosed):
		if !p.closing {
			p.failf("client ack %s#%d: closed, but the manager is not", ev.nsp, ev.seq)
		}
	default:
		p.failf("client ack %s#%d: %v", ev.nsp, ev.seq, err)
	}
}

func (p *model) cliOpen() {
	l := p.cur
	p.logf("client: open on link %d", l.id)
	p.count("sessions opened")
	l.opened, l.cliLastPing = true, p.now
	if hs := l.e.Handshake(); hs.PingInterval != p.pi || hs.PingTimeout != p.pt {
		p.failf("client: handshake heartbeat %v/%v", hs.PingInterval, hs.PingTimeout)
	}
}

func (p *model) cliClose(reason string, err error) {
	l := p.cur
	p.logf("client: link %d closed: %s (%v)", l.id, reason, err)
	p.count("client close: " + reason)
	ok := false
	switch reason {
	case ReasonTransportClose:
		ok = l.cliMayClose || l.c.Closed()
	case ReasonTransportError:
		ok = l.cliMayErr || errors.Is(err, eio.ErrSlowConsumer)
	case ReasonPingTimeout:
		ok = p.cliPingTimeoutOK(l)
	case ReasonForcedClose:
		ok = l.cliForced || p.closing || !p.anyActive()
	}
	if !ok {
		p.failf("client: close %q (%v) unexplained on link %d", reason, err, l.id)
	}
	p.attempts = 0
	p.expectReconnect()
}

func (p *model) cliError(err error) {
	l := p.cur
	p.logf("client: attempt on link %d failed: %v", l.id, err)
	var cf *ConnectFailure
	if !errors.As(err, &cf) {
		p.failf("client: OnError with %v", err)
		return
	}
	p.count("client attempt failed: " + cf.Reason)
	ok := false
	switch cf.Reason {
	case ReasonTransportError:
		ok = l.cliMayErr
	case ReasonTransportClose:
		ok = l.cliMayClose || (l.c != nil && l.c.Closed())
	case ReasonPingTimeout:
		ok = !p.now.Before(l.dialAt.Add(p.preOpenBeat))
	case ReasonForcedClose:
		if errors.Is(cf.Err, ErrTimeout) {
			ok = !p.now.Before(l.dialAt.Add(p.openTimeout))
		} else {
			ok = l.cliForced || p.closing || !p.anyActive()
		}
	}
	if !ok {
		p.failf("client: failed attempt %v unexplained on link %d", err, l.id)
	}
	p.expectReconnect()
}

// expectReconnect follows a session's end: the manager reconnects, after
// its backoff, when a socket still wants to be connected.
func (p *model) expectReconnect() {
	want := !p.closing && p.anyActive()
	calls := p.rndCalls
	p.rndCalls = 0
	if !want {
		if calls != 0 {
			p.failf("client: a reconnection with no socket active")
		}
		p.reconnecting, p.attempts, p.expReconnect = false, 0, time.Time{}
		return
	}
	if calls != 1 {
		p.failf("client: %d reconnections scheduled", calls)
		return
	}
	d := p.backoff.Delay(p.attempts, p.lastRnd)
	p.attempts++
	p.expReconnect = p.now.Add(d)
	p.logf("client: reconnection %d expected in %v", p.attempts, d)
}

func (p *model) cliReconnectAttempt(n int) {
	p.logf("client: reconnection attempt %d", n)
	p.count("reconnection attempts")
	switch {
	case p.expReconnect.IsZero():
		p.failf("client: reconnection attempt %d nobody scheduled", n)
	case p.now.Before(p.expReconnect):
		p.failf("client: reconnection attempt %d %v early", n, p.expReconnect.Sub(p.now))
	case n != p.attempts:
		p.failf("client: reconnection attempt %d, the model counts %d", n, p.attempts)
	}
	p.expReconnect = time.Time{}
	p.reconnecting = true
}

func (p *model) cliReconnect(n int) {
	p.logf("client: reconnected after %d attempts", n)
	p.count("reconnections")
	if !p.reconnecting || n != p.attempts {
		p.failf("client: OnReconnect(%d), reconnecting %v after %d attempts", n, p.reconnecting, p.attempts)
	}
	p.reconnecting, p.attempts = false, 0
}

// The network.

// dial connects the session the manager asks for, or refuses it.
func (p *model) dial() bool {
	e := p.m.TakeDial()
	if e == nil {
		return false
	}
	l := &mLink{
		id: len(p.links), e: e, dialAt: p.now,
		srv: map[string]*mSrvSock{}, srvDisc: map[string]bool{}, cliDisc: map[string]int{}, orphan: map[string]bool{},
	}
	if p.cur != nil && p.cur.e == e {
		p.failf("client: the same session dialed twice")
	}
	p.links = append(p.links, l)
	p.cur = l
	p.count("dials")
	if p.refuse > 0 {
		p.refuse--
		p.logf("client: dial %d on %v refused", l.id, e.Transport())
		l.cliMayErr, l.cliEnded, l.srvEnded = true, true, true
		e.HandleTransportClose(p.now, errDialRefused)
		return true
	}
	c, err := p.srv.NewConn(e.Transport(), core.Handshake{RawQuery: "EIO=4"}, p.now, func() { l.woken = true })
	if err != nil {
		p.failf("NewConn: %v", err)
		l.cliEnded, l.srvEnded = true, true
		return true
	}
	l.c = c
	p.byConn[c] = l
	l.srvLastPong = p.now
	if e.Transport() == eio.WebSocket {
		l.ws = &mWS{}
	} else {
		l.get = mGetPending // the handshake request
	}
	p.logf("client: dial %d on %v", l.id, e.Transport())
	return true
}

// connTimeout calls the Conn's HandleTimeout, and notes the ping it sends.
func (p *model) connTimeout(l *mLink) {
	l.c.HandleTimeout(p.now)
	if !l.c.Closed() && !l.pingOut && !p.now.Before(l.srvLastPong.Add(p.pi)) {
		l.pingOut, l.pingAt = true, p.now
	}
}

func (p *model) appendFrames(dst *[]mFrame, pkts []eio.Packet) {
	for _, q := range pkts {
		f, bin := eio.AppendFrame(nil, q)
		*dst = append(*dst, mFrame{f, bin})
	}
}

// cliWSClosed reports to the client the clean end of the WebSocket of l,
// from the server's side; srvWSClosed is the other way round.
func (p *model) cliWSClosed(l *mLink) {
	e := l.e
	switch {
	case e.Closed():
	case e.Transport() == eio.WebSocket:
		l.cliMayClose = true
		e.HandleTransportClose(p.now, nil)
	case e.Upgrading():
		e.HandleProbeClose(p.now)
	}
}

func (p *model) srvWSClosed(l *mLink) {
	c := l.c
	switch {
	case c.Closed():
	case c.Transport() == eio.WebSocket:
		l.srvMayClose = true
		c.HandleTransportClose(p.now, nil)
	case c.Upgrading():
		c.HandleProbeClose(p.now)
	}
}

// flushLink moves what each side of l has to send into the network, as
// their drivers do, and ends the transports of closed sessions.
func (p *model) flushLink(l *mLink) bool {
	e, c := l.e, l.c
	if c == nil {
		return false
	}
	moved := false
	// The client's output.
	if !l.cliEnded {
		pk := e.TakeProbeOutput(nil)
		pk = e.TakeOutputOn(eio.WebSocket, pk, 0)
		if len(pk) > 0 {
			moved = true
			if l.ws != nil && !l.silentCli {
				p.appendFrames(&l.ws.c2s, pk)
			}
		}
		if l.opened && l.post == nil && e.Transport() == eio.Polling {
			if out := e.TakeOutputOn(eio.Polling, nil, e.Handshake().MaxPayload); len(out) > 0 {
				moved = true
				if !l.silentCli {
					l.post = eio.AppendPayload(nil, out)
				}
			}
		}
		if l.get == mGetNone && l.opened && !e.Closed() && e.Transport() == eio.Polling && !e.PollingPaused() {
			moved = true
			switch {
			case l.silentCli:
				l.get = mGetLost
			case l.srvEnded:
				// The server forgot the session: the poll is refused.
				l.cliMayErr = true
				p.inLink = l
				e.HandleTransportClose(p.now, errHTTP400)
				p.inLink = nil
			default:
				l.get = mGetPending
			}
		}
	}
	// The server's output.
	if !l.srvEnded {
		pk := c.TakeProbeOutput(nil)
		if c.Transport() == eio.WebSocket {
			pk = c.TakeOutput(pk)
		}
		if len(pk) > 0 {
			moved = true
			if l.ws != nil && !l.silentSrv && !l.cliEnded {
				p.appendFrames(&l.ws.s2c, pk)
			}
		}
		if c.Transport() == eio.Polling && l.get == mGetPending {
			out := c.TakeOutputLimit(nil, p.pollMax)
			if len(out) == 0 && c.Closed() {
				// The session is over: the poll is released with a close,
				// or a noop when the client's own close ended it.
				end := eio.Packet{Type: eio.Close}
				if c.CloseReason() == eio.ReasonTransportClose {
					end.Type = eio.Noop
				}
				out = append(out, end)
			}
			if len(out) > 0 {
				moved = true
				if l.silentSrv {
					l.get = mGetLost
				} else {
					l.get, l.getBody = mGetResp, eio.AppendPayload(nil, out)
				}
			}
		}
	}
	// A probe abandoned by one side: that side closes its WebSocket.
	if w := l.ws; w != nil && w.probe && !e.Closed() && !c.Closed() {
		switch {
		case c.Transport() == eio.Polling && !c.Upgrading():
			p.logf("link %d: the server drops the probe", l.id)
			moved = true
			l.ws = nil
			if !l.silentSrv {
				p.inLink = l
				p.cliWSClosed(l)
				p.inLink = nil
			}
		case e.Transport() == eio.Polling && !e.Upgrading():
			p.logf("link %d: the client drops the probe", l.id)
			moved = true
			l.ws = nil
			if !l.silentCli {
				p.srvWSClosed(l)
			}
		}
	}
	// The client ends its transport once its output is out.
	if e.Closed() && !l.cliEnded && l.post == nil && (l.ws == nil || len(l.ws.c2s) == 0) {
		p.logf("link %d: the client ends its transport", l.id)
		moved = true
		l.cliEnded = true
		if !l.silentCli && !c.Closed() {
			if l.ws != nil {
				p.srvWSClosed(l)
			}
			if l.get == mGetPending && c.Transport() == eio.Polling {
				l.srvMayErr = true
				c.HandleTransportClose(p.now, errPollAborted)
			}
		}
		l.ws = nil
		l.get, l.getBody = mGetNone, nil
	}
	// The server ends its transport once its output is out.
	if c.Closed() && !l.srvEnded {
		switch {
		case l.cliEnded:
			l.srvEnded = true
		case c.Transport() == eio.WebSocket || (l.ws != nil && !l.ws.probe):
			if !c.HasOutput() && (l.ws == nil || len(l.ws.s2c) == 0) {
				l.srvEnded = true
				if l.ws != nil && !l.silentSrv {
					p.inLink = l
					p.cliWSClosed(l)
					p.inLink = nil
				}
				l.ws = nil
			}
		case l.get != mGetPending && !c.HasOutput():
			l.srvEnded = true
			if l.ws != nil && !l.silentSrv {
				p.inLink = l
				p.cliWSClosed(l)
				p.inLink = nil
			}
			l.ws = nil
		}
		if l.srvEnded {
			p.logf("link %d: the server ends its transport", l.id)
			moved = true
		}
	}
	return moved
}

// flush runs what the drivers of both sides do after any input: dial, call
// HandleTimeout when woken, move outputs into the network.
func (p *model) flush() {
	for range 1000 {
		moved := p.dial()
		if p.cliWoken {
			p.cliWoken = false
			p.m.HandleTimeout(p.now)
		}
		if p.srvWoken {
			p.srvWoken = false
			p.srv.HandleTimeout(p.now)
		}
		for _, l := range p.links {
			if l.c == nil || l.settled() {
				continue
			}
			if l.woken {
				l.woken = false
				p.connTimeout(l)
			}
			if p.flushLink(l) {
				moved = true
			}
		}
		if !moved {
			return
		}
	}
	p.failf("flush does not settle")
}

// scanned lists the Engine.IO packets of a frame or a body.
func scanned(body []byte, frame, binary bool) []eio.Packet {
	if frame {
		q, err := eio.DecodeFrame(body, binary)
		if err != nil {
			return nil
		}
		return []eio.Packet{q}
	}
	var out []eio.Packet
	_ = eio.DecodePayload(body, eio.Limits{}, func(q eio.Packet) error {
		out = append(out, q)
		return nil
	})
	return out
}

// sioHeader reads the type and namespace of a text Socket.IO packet.
func sioHeader(data []byte) (byte, string) {
	if len(data) == 0 {
		return 0, ""
	}
	t, rest := data[0], data[1:]
	if len(rest) > 0 && rest[0] == '/' {
		if i := slices.Index(rest, ','); i >= 0 {
			return t, string(rest[:i])
		}
		return t, string(rest)
	}
	return t, "/"
}

// sawAtClient notes the pings and the server's DISCONNECTs the client
// handled.
func (p *model) sawAtClient(l *mLink, pkts []eio.Packet, active bool) {
	for _, q := range pkts {
		switch {
		case q.Type == eio.Ping && len(q.Data) == 0 && active && !l.e.Closed():
			l.cliLastPing = p.now
		case q.Type == eio.Message && !q.Binary:
			if t, nsp := sioHeader(q.Data); t == '1' {
				delete(l.srvDisc, nsp)
				if !p.sock(nsp).s.Active() {
					// What the server sent before it is not for a socket
					// that no longer wants to be connected.
					for _, ev := range p.stream('s', nsp).evs {
						if !ev.delivered {
							ev.mayLose = true
						}
					}
				}
			}
		}
	}
}

func (p *model) deliverS2C(l *mLink) bool {
	e := l.e
	switch {
	case l.ws != nil && len(l.ws.s2c) > 0:
		f := l.ws.s2c[0]
		l.ws.s2c = l.ws.s2c[1:]
		p.logf("link %d: frame to the client %.60q", l.id, f.data)
		active := !l.ws.probe || e.Transport() == eio.WebSocket
		open := !e.Closed()
		p.inLink = l
		var err error
		if l.ws.probe {
			err = e.HandleProbeFrame(p.now, f.data, f.binary)
		} else {
			err = e.HandleFrame(p.now, f.data, f.binary)
		}
		p.inLink = nil
		if err != nil {
			p.failf("client: frame %q: %v", f.data, err)
		}
		if open {
			p.sawAtClient(l, scanned(f.data, true, f.binary), active)
		}
		return true
	case l.get == mGetResp:
		body := l.getBody
		l.get, l.getBody = mGetNone, nil
		p.logf("link %d: poll response %.60q", l.id, body)
		active := e.Transport() == eio.Polling
		open := !e.Closed()
		p.inLink = l
		err := e.HandlePayload(p.now, body)
		p.inLink = nil
		if err != nil {
			p.failf("client: body %q: %v", body, err)
		}
		if open {
			p.sawAtClient(l, scanned(body, false, false), active)
		}
		return true
	}
	return false
}

func (p *model) srvSawPong(l *mLink, pkts []eio.Packet) {
	for _, q := range pkts {
		if q.Type == eio.Pong && len(q.Data) == 0 && !l.c.Closed() {
			l.srvLastPong, l.pingOut = p.now, false
		}
	}
}

func (p *model) deliverC2S(l *mLink) bool {
	c := l.c
	switch {
	case l.ws != nil && len(l.ws.c2s) > 0:
		f := l.ws.c2s[0]
		l.ws.c2s = l.ws.c2s[1:]
		p.logf("link %d: frame to the server %.60q", l.id, f.data)
		open := !c.Closed()
		var err error
		if l.ws.probe {
			err = c.HandleProbeFrame(p.now, f.data, f.binary)
		} else {
			err = c.HandleFrame(p.now, f.data, f.binary)
		}
		if err != nil {
			p.failf("server: frame %q: %v", f.data, err)
		}
		if open && (!l.ws.probe || c.Transport() == eio.WebSocket) {
			p.srvSawPong(l, scanned(f.data, true, f.binary))
		}
		return true
	case l.post != nil:
		body := l.post
		l.post = nil
		p.logf("link %d: post %.60q", l.id, body)
		if c.Closed() {
			// The server forgot the session: the POST is refused.
			if e := l.e; !e.Closed() && e.Transport() == eio.Polling {
				l.cliMayErr = true
				p.inLink = l
				e.HandleTransportClose(p.now, errHTTP400)
				p.inLink = nil
			}
			return true
		}
		polling := c.Transport() == eio.Polling
		if err := c.HandlePayload(p.now, body); err != nil {
			p.failf("server: body %q: %v", body, err)
		}
		if polling {
			p.srvSawPong(l, scanned(body, false, false))
		}
		return true
	}
	return false
}

// completeUpgrade finishes a paused upgrade once no request is in flight.
func (p *model) completeUpgrade(l *mLink) bool {
	e := l.e
	if l.c == nil || l.silentCli || l.ws == nil || !e.PollingPaused() || l.get != mGetNone || l.post != nil {
		return false
	}
	if err := e.CompleteUpgrade(p.now); err != nil {
		p.failf("client: CompleteUpgrade: %v", err)
		return false
	}
	p.logf("link %d: the client completes the upgrade", l.id)
	p.count("upgrades completed")
	return true
}

// pump runs the network until nothing moves, as a fast healthy network
// does.
func (p *model) pump() {
	for range 5000 {
		p.flush()
		moved := false
		for _, l := range p.links {
			if l.c == nil || l.settled() {
				continue
			}
			if p.deliverC2S(l) {
				moved = true
			}
			if p.deliverS2C(l) {
				moved = true
			}
			if p.completeUpgrade(l) {
				moved = true
			}
		}
		if !moved || len(p.errs) > 0 {
			return
		}
	}
	p.failf("the network does not settle")
}

// The clock.

func (p *model) deadlines() []time.Time {
	var out []time.Time
	if t, ok := p.m.Deadline(); ok {
		out = append(out, t)
	}
	if t, ok := p.srv.Deadline(); ok {
		out = append(out, t)
	}
	for _, l := range p.links {
		if l.c != nil && !l.c.Closed() {
			if t, ok := l.c.Deadline(); ok {
				out = append(out, t)
			}
		}
	}
	return out
}

// fire runs the timers of both sides due at now.
func (p *model) fire() {
	p.m.HandleTimeout(p.now)
	for _, l := range p.links {
		if l.c != nil && !l.settled() {
			p.connTimeout(l)
		}
	}
	p.srv.HandleTimeout(p.now)
	p.flush()
	for _, d := range p.deadlines() {
		if !d.After(p.now) {
			p.failf("a timer due %v ago did not fire", p.now.Sub(d))
		}
	}
}

// advance moves the clock by d through every deadline on the way, firing
// each on time; the network keeps up unless lag.
func (p *model) advance(d time.Duration, lag bool) {
	end := p.now.Add(d)
	p.logf("clock +%v (network lags %v)", d, lag)
	for range 100000 {
		next := end
		for _, t := range p.deadlines() {
			if t.Before(next) {
				next = t
			}
		}
		if next.After(p.now) {
			p.now = next
		}
		p.fire()
		if !lag {
			p.pump()
		}
		if !p.now.Before(end) || len(p.errs) > 0 {
			return
		}
	}
	p.failf("the clock does not progress")
}

// jump moves the clock by d at once, as after a suspended process: every
// timer due meanwhile fires late.
func (p *model) jump(d time.Duration, lag bool) {
	p.now = p.now.Add(d)
	p.logf("clock jumps +%v (network lags %v)", d, lag)
	p.fire()
	if !lag {
		p.pump()
	}
}

// drive jumps to the next deadline and fires it.
func (p *model) drive() {
	ds := p.deadlines()
	if len(ds) == 0 {
		return
	}
	next := slices.MinFunc(ds, func(a, b time.Time) int { return a.Compare(b) })
	if next.After(p.now) {
		p.now = next
	}
	p.logf("clock to the next deadline")
	p.fire()
	p.pump()
}

// The actions.

func (p *model) drawSock(t *rapid.T, label string) *mCliSock {
	switch rapid.IntRange(0, 9).Draw(t, label) {
	case 0, 1, 2, 3, 4:
		return p.socks[0]
	case 9:
		return p.socks[2]
	}
	return p.socks[1]
}

func (p *model) openSrvSocks(nsp string) []*mSrvSock {
	var out []*mSrvSock
	for _, ss := range p.srvSocks {
		if ss.open && (nsp == "" || ss.nsp == nsp) {
			out = append(out, ss)
		}
	}
	return out
}

func (p *model) cliConnect(t *rapid.T) {
	cs := p.drawSock(t, "nsp")
	err := cs.s.Connect(p.now)
	p.logf("client %s: Connect: %v", cs.nsp, err)
	if err != nil {
		p.failf("client %s: Connect: %v", cs.nsp, err)
	}
	if !cs.s.Connected() {
		cs.awaiting = true
	}
	if l := p.cur; l != nil && l.orphan[cs.nsp] && l.opened && !l.e.Closed() {
		// The server may still hold the socket of the CONNECT answered
		// after the client left: a second CONNECT is out of state.
		l.mayForce = true
	}
	p.flush()
}

func (p *model) cliDisconnect(t *rapid.T) {
	cs := p.drawSock(t, "nsp")
	l := p.cur
	connected := cs.s.Connected()
	connecting := cs.s.Active() && !connected && l != nil && l.opened && !l.e.Closed()
	p.logf("client %s: Disconnect (connected %v)", cs.nsp, connected)
	p.inCliDisc = cs
	cs.s.Disconnect()
	p.inCliDisc = nil
	if cs.s.Active() || cs.s.Connected() {
		p.failf("client %s: still active after Disconnect", cs.nsp)
	}
	if l != nil {
		if connected {
			l.cliDisc[cs.nsp]++
			if l.srvDisc[cs.nsp] {
				l.mayForce = true
			}
		}
		if connecting && cs.nsp != "/deny" {
			l.orphan[cs.nsp] = true
		}
	}
	// What the server sends it meanwhile is dropped.
	for _, ev := range p.stream('s', cs.nsp).evs {
		if !ev.delivered {
			ev.mayLose = true
		}
	}
	if !p.anyActive() {
		// A reconnection wait ends with the last active socket.
		p.expReconnect, p.attempts, p.reconnecting = time.Time{}, 0, false
	}
	p.flush()
}

func (p *model) cliEmit(t *rapid.T) {
	cs := p.drawSock(t, "nsp")
	ev := p.newEvent('c', cs.nsp, "ev", rapid.SampledFrom(modes).Draw(t, "mode"))
	o := EmitOptions{Volatile: mChance(t, "volatile", 8)}
	var a *mAck
	if rapid.Bool().Draw(t, "ack") {
		a = &mAck{ev: ev, cs: cs, discAt: cs.disc}
		if rapid.Bool().Draw(t, "deadline") {
			a.deadline = p.now.Add(time.Duration(rapid.Int64Range(1, int64(3*(p.pi+p.pt))).Draw(t, "in")))
			o.Deadline = a.deadline
		}
		ev.ack = a
		p.acks = append(p.acks, a)
		o.Ack = func(args Args, err error) { p.cliAckDone(a, args, err) }
	}
	connected := cs.s.Connected()
	l := p.cur
	_, err := cs.s.EmitWith(o, "ev", ev.seq, ev.mode)
	p.logf("client %s: emits #%d (ack %v, deadline %v, volatile %v, connected %v): %v",
		cs.nsp, ev.seq, a != nil, !o.Deadline.IsZero(), o.Volatile, connected, err)
	if a != nil {
		a.emitted, a.emitErr = true, err
	}
	switch {
	case err == nil && connected:
		ev.sent = true
		ev.links = []*mLink{l}
		if l.srvDisc[cs.nsp] {
			l.mayForce = true
		}
	case err == nil:
		if o.Volatile {
			p.failf("client %s: a volatile emit buffered", cs.nsp)
		}
		if len(cs.buffered) >= p.maxBuf {
			p.failf("client %s: emit buffered beyond %d", cs.nsp, p.maxBuf)
		}
		cs.buffered = append(cs.buffered, ev)
	case errors.Is(err, ErrBufferFull):
		if connected || len(cs.buffered) < p.maxBuf {
			p.failf("client %s: buffer full with %d of %d (connected %v)", cs.nsp, len(cs.buffered), p.maxBuf, connected)
		}
	case errors.Is(err, ErrDropped):
		if !o.Volatile {
			p.failf("client %s: a plain emit dropped", cs.nsp)
		}
	case errors.Is(err, eio.ErrSlowConsumer):
		if !connected {
			p.failf("client %s: slow consumer while not connected", cs.nsp)
		}
	default:
		p.failf("client %s: emit: %v", cs.nsp, err)
	}
	if err != nil {
		ev.mayLose = true
	}
	p.flush()
}

func (p *model) srvEmit(t *rapid.T) {
	socks := p.openSrvSocks("")
	var ss *mSrvSock
	switch {
	case len(socks) > 0 && !mChance(t, "closedSocket", 10):
		ss = rapid.SampledFrom(socks).Draw(t, "socket")
	case len(p.srvSocks) > 0:
		ss = rapid.SampledFrom(p.srvSocks).Draw(t, "anySocket")
	default:
		return
	}
	wasOpen := ss.open
	cs := p.sock(ss.nsp)
	ev := p.newEvent('s', ss.nsp, "ev", rapid.SampledFrom(modes).Draw(t, "mode"))
	ev.links = []*mLink{ss.l}
	if !cs.s.Active() {
		ev.mayLose = true // the client ignores its namespace
	}
	var err error
	var a *mAck
	timeout := time.Duration(0)
	if rapid.Bool().Draw(t, "ack") {
		a = &mAck{ev: ev, ss: ss, emitting: true}
		ev.ack = a
		p.acks = append(p.acks, a)
		cb := func(args core.Args, err error) { p.srvAckDone(a, args, err) }
		if rapid.Bool().Draw(t, "timeout") {
			timeout = time.Duration(rapid.Int64Range(1, int64(3*(p.pi+p.pt))).Draw(t, "timeout"))
			a.deadline = p.now.Add(timeout)
			err = ss.s.Timeout(timeout).EmitAck("ev", cb, ev.seq, ev.mode)
		} else {
			err = ss.s.EmitAck("ev", cb, ev.seq, ev.mode)
		}
		a.emitting, a.emitted, a.emitErr = false, true, err
	} else if mChance(t, "volatile", 8) {
		err = ss.s.Volatile().Emit("ev", ev.seq, ev.mode)
	} else {
		err = ss.s.Emit("ev", ev.seq, ev.mode)
	}
	p.logf("server %s: emits #%d to %s on link %d (ack %v, timeout %v): %v", ss.nsp, ev.seq, ss.s.ID(), ss.l.id, a != nil, timeout, err)
	switch {
	case err == nil:
		if !wasOpen {
			p.failf("server %s: emit on a closed socket succeeded", ss.nsp)
		}
		ev.sent = true
	case errors.Is(err, core.ErrDisconnected):
		if wasOpen && ss.s.Connected() {
			p.failf("server %s: emit says disconnected on a connected socket", ss.nsp)
		}
	case errors.Is(err, eio.ErrQueueFull), errors.Is(err, eio.ErrSlowConsumer), errors.Is(err, eio.ErrClosed):
		if !wasOpen {
			p.failf("server %s: emit on a closed socket: %v", ss.nsp, err)
		}
	default:
		p.failf("server %s: emit: %v", ss.nsp, err)
	}
	if err != nil {
		ev.mayLose = true
		if a != nil && a.calls == 1 && !errors.Is(a.syncErr, err) {
			p.failf("server %s: emit failed with %v, its ack with %v", ss.nsp, err, a.syncErr)
		}
	} else if a != nil && a.calls > 0 {
		p.failf("server %s: an emit that succeeded called its ack with %v", ss.nsp, a.syncErr)
	}
	p.flush()
}

var rooms = []string{"all", "r1", "r2"}

func (p *model) broadcast(t *rapid.T) {
	nsp := rapid.SampledFrom([]string{"/", "/a"}).Draw(t, "nsp")
	room := rapid.SampledFrom(rooms).Draw(t, "room")
	except := mChance(t, "except", 4)
	var targets []*mSrvSock
	var in []string
	for _, ss := range p.openSrvSocks(nsp) {
		if ss.rooms[room] {
			in = append(in, ss.s.ID())
		}
		if ss.rooms[room] != except {
			targets = append(targets, ss)
		}
	}
	got := p.srv.Of(nsp).Adapter().Sockets([]string{room})
	sort.Strings(got)
	sort.Strings(in)
	if !slices.Equal(got, in) {
		p.failf("server %s: room %s holds %v, the model %v", nsp, room, got, in)
	}
	ev := p.newEvent('s', nsp, "bc", rapid.SampledFrom(modes).Draw(t, "mode"))
	for _, ss := range targets {
		if !slices.Contains(ev.links, ss.l) {
			ev.links = append(ev.links, ss.l)
		}
	}
	if !p.sock(nsp).s.Active() {
		ev.mayLose = true
	}
	ev.sent = true
	op := p.srv.Of(nsp).To(room)
	if except {
		op = p.srv.Of(nsp).Except(room)
	}
	var err error
	var b *mBcast
	if rapid.Bool().Draw(t, "ack") {
		d := time.Duration(rapid.Int64Range(1, int64(3*(p.pi+p.pt))).Draw(t, "timeout"))
		b = &mBcast{ev: ev, targets: targets, deadline: p.now.Add(d)}
		ev.bc = b
		p.bcasts = append(p.bcasts, b)
		err = op.Timeout(d).EmitAck("bc", func(rs []core.Args, err error) { p.bcAckDone(b, rs, err) }, ev.seq, ev.mode)
	} else {
		err = op.Emit("bc", ev.seq, ev.mode)
	}
	p.logf("server %s: broadcast #%d to %s (except %v) reaching %d (ack %v): %v", nsp, ev.seq, room, except, len(targets), b != nil, err)
	p.count("broadcasts")
	if err != nil {
		p.failf("server %s: broadcast: %v", nsp, err)
	}
	if b != nil && len(targets) == 0 && b.calls != 1 {
		p.failf("server %s: a broadcast ack reaching nobody is not called at once", nsp)
	}
	p.flush()
}

func (p *model) joinLeave(t *rapid.T) {
	socks := p.openSrvSocks("")
	if len(socks) == 0 {
		return
	}
	ss := rapid.SampledFrom(socks).Draw(t, "socket")
	room := rapid.SampledFrom(rooms[1:]).Draw(t, "room")
	if rapid.Bool().Draw(t, "join") {
		ss.s.Join(room)
		ss.rooms[room] = true
	} else {
		ss.s.Leave(room)
		delete(ss.rooms, room)
	}
	p.logf("server %s: %s in %s: %v", ss.nsp, ss.s.ID(), room, ss.rooms[room])
}

func (p *model) srvDisconnect(t *rapid.T) {
	socks := p.openSrvSocks("")
	if len(socks) == 0 {
		return
	}
	ss := rapid.SampledFrom(socks).Draw(t, "socket")
	l := ss.l
	closeConn := mChance(t, "close", 4)
	p.logf("server %s: Disconnect(%v) %s on link %d", ss.nsp, closeConn, ss.s.ID(), l.id)
	if closeConn {
		for nsp, o := range l.srv {
			if o.open {
				l.srvDisc[nsp] = true
			}
		}
		l.srvForced = true
		p.inSrvClose = l
	} else {
		l.srvDisc[ss.nsp] = true
		p.inSrvDisc = ss
		if p.cliInFlight(l, ss.nsp) {
			// What the client sent for the namespace arrives after it is
			// gone: the server closes the connection.
			l.mayForce = true
		}
	}
	ss.s.Disconnect(closeConn)
	p.inSrvDisc, p.inSrvClose = nil, nil
	if ss.open || ss.s.Connected() {
		p.failf("server %s: still connected after Disconnect", ss.nsp)
	}
	p.flush()
}

// cliInFlight reports whether the client may have sent something for nsp,
// other than a CONNECT, that the server has not handled: seen in the
// network, or guessed from output the client still holds.
func (p *model) cliInFlight(l *mLink, nsp string) bool {
	var queued int
	p.locked(func() { queued = l.e.sess.QueuedPackets() })
	if queued > 0 {
		return true
	}
	var pkts []eio.Packet
	if l.ws != nil {
		for _, f := range l.ws.c2s {
			pkts = append(pkts, scanned(f.data, true, f.binary)...)
		}
	}
	if l.post != nil {
		pkts = append(pkts, scanned(l.post, false, false)...)
	}
	for _, q := range pkts {
		if q.Type == eio.Message && !q.Binary {
			if t, n := sioHeader(q.Data); n == nsp && t != '0' {
				return true
			}
		}
	}
	return false
}

func (p *model) answerLate(t *rapid.T) {
	if len(p.srvLate) > 0 && (len(p.cliLate) == 0 || rapid.Bool().Draw(t, "server")) {
		i := rapid.IntRange(0, len(p.srvLate)-1).Draw(t, "i")
		x := p.srvLate[i]
		p.srvLate = slices.Delete(p.srvLate, i, i+1)
		p.srvAnswer(x.ss, x.ev, x.e)
	} else if len(p.cliLate) > 0 {
		i := rapid.IntRange(0, len(p.cliLate)-1).Draw(t, "i")
		x := p.cliLate[i]
		p.cliLate = slices.Delete(p.cliLate, i, i+1)
		p.cliAnswer(x.cs, x.ev, x.e)
	}
	p.flush()
}

// deliver moves one frame, one way, on one link.
func (p *model) deliver(t *rapid.T) {
	type move struct {
		l   *mLink
		c2s bool
	}
	var moves []move
	for _, l := range p.links {
		if l.c == nil || l.settled() {
			continue
		}
		if (l.ws != nil && len(l.ws.c2s) > 0) || l.post != nil {
			moves = append(moves, move{l, true})
		}
		if (l.ws != nil && len(l.ws.s2c) > 0) || l.get == mGetResp {
			moves = append(moves, move{l, false})
		}
	}
	if len(moves) == 0 {
		return
	}
	m := moves[rapid.IntRange(0, len(moves)-1).Draw(t, "move")]
	if m.c2s {
		p.deliverC2S(m.l)
	} else {
		p.deliverS2C(m.l)
	}
	p.completeUpgrade(m.l)
	p.flush()
}

func (p *model) upgrade() {
	l := p.cur
	if l == nil || l.c == nil || l.ws != nil || !l.opened || l.silentCli {
		return
	}
	e, c := l.e, l.c
	err := e.StartProbe(p.now)
	p.logf("link %d: the client starts a probe: %v", l.id, err)
	if err != nil {
		if !e.Closed() && e.Transport() == eio.Polling && !e.Upgrading() {
			p.failf("client: StartProbe refused: %v", err)
		}
		return
	}
	p.count("probes")
	l.ws = &mWS{probe: true}
	if l.silentSrv {
		return // the WebSocket hangs
	}
	if err := c.StartProbe(p.now); err != nil {
		p.logf("link %d: the server turns the probe away: %v", l.id, err)
		if !c.Closed() {
			p.failf("server: StartProbe refused on an open session: %v", err)
		}
		l.ws = nil
		p.inLink = l
		e.HandleProbeClose(p.now)
		p.inLink = nil
	}
	p.flush()
}

// drop breaks a link that has something in flight.
func (p *model) drop(t *rapid.T) {
	var cands []*mLink
	for _, l := range p.links {
		if l.c != nil && !l.settled() && ((l.ws != nil && len(l.ws.c2s)+len(l.ws.s2c) > 0) || l.post != nil || l.get == mGetResp) {
			cands = append(cands, l)
		}
	}
	if len(cands) == 0 {
		return
	}
	l := rapid.SampledFrom(cands).Draw(t, "link")
	e, c := l.e, l.c
	var kinds []string
	if l.ws != nil && len(l.ws.c2s)+len(l.ws.s2c) > 0 {
		kinds = append(kinds, "ws")
	}
	if l.post != nil || l.get == mGetResp {
		kinds = append(kinds, "poll")
	}
	kind := rapid.SampledFrom(kinds).Draw(t, "kind")
	p.logf("link %d: the %s link breaks", l.id, kind)
	p.count("drops")
	// Only a link that carries the session breaks it: a probe's end is
	// the probe's.
	l.broken = kind == "poll" || e.Transport() == eio.WebSocket || c.Transport() == eio.WebSocket
	p.inLink = l
	if kind == "ws" {
		l.ws = nil
		if !e.Closed() {
			if e.Transport() == eio.WebSocket {
				l.cliMayErr = true
				e.HandleTransportClose(p.now, errLinkBroken)
			} else if e.Upgrading() {
				e.HandleProbeClose(p.now)
			}
		}
		if !c.Closed() {
			if c.Transport() == eio.WebSocket {
				l.srvMayErr = true
				c.HandleTransportClose(p.now, errLinkBroken)
			} else if c.Upgrading() {
				c.HandleProbeClose(p.now)
			}
		}
	} else {
		l.get, l.getBody, l.post = mGetNone, nil, nil
		if !e.Closed() && e.Transport() == eio.Polling {
			l.cliMayErr = true
			e.HandleTransportClose(p.now, errLinkBroken)
		}
		if !c.Closed() && c.Transport() == eio.Polling {
			l.srvMayErr = true
			c.HandleTransportClose(p.now, errLinkBroken)
		}
	}
	p.inLink = nil
	p.flush()
}

func (p *model) fault(t *rapid.T) {
	l := p.cur
	switch rapid.SampledFrom([]string{"drop", "silence", "serverClose", "clientClose", "refuse"}).Draw(t, "fault") {
	case "drop":
		p.drop(t)
	case "silence":
		if l == nil || l.c == nil || l.silentSrv || l.silentCli {
			return
		}
		if rapid.Bool().Draw(t, "clientSilent") {
			l.silentCli = true
		} else {
			l.silentSrv = true
		}
		p.logf("link %d: silent client %v, silent server %v", l.id, l.silentCli, l.silentSrv)
		p.count("silences")
	case "serverClose":
		if l == nil || l.c == nil || l.c.Closed() {
			return
		}
		p.logf("link %d: the server closes the connection", l.id)
		l.srvForced = true
		l.c.Close(eio.ReasonForcedClose)
		p.flush()
	case "clientClose":
		if l == nil || l.e.Closed() {
			return
		}
		p.logf("link %d: the client closes its session", l.id)
		l.cliForced = true
		p.inLink = l
		l.e.Close(p.now)
		p.inLink = nil
		p.flush()
	case "refuse":
		p.refuse = rapid.IntRange(1, 3).Draw(t, "dials")
		p.logf("the next %d dials are refused", p.refuse)
	}
}

func (p *model) clock(t *rapid.T) {
	beat := p.pi + p.pt
	lag := mChance(t, "networkLags", 4)
	switch {
	case mChance(t, "jump", 20): // the process slept: a huge jump, timers fire late
		p.jump(time.Duration(rapid.Int64Range(1, 2000).Draw(t, "beats"))*beat, lag)
	case mChance(t, "late", 10):
		p.jump(time.Duration(rapid.Int64Range(0, int64(2*beat)).Draw(t, "d")), lag)
	case mChance(t, "long", 8):
		p.advance(time.Duration(rapid.Int64Range(0, int64(3*beat)).Draw(t, "d")), lag)
	default:
		p.advance(time.Duration(rapid.Int64Range(0, int64(p.pt/2)).Draw(t, "d")), lag)
	}
}

// The invariants.

// idleHealthy returns the current link when it is open on both sides, not
// faulty, and nothing is in flight or waiting to go out.
func (p *model) idleHealthy() (*mLink, bool) {
	l := p.cur
	if l == nil || l.c == nil || p.closing {
		return nil, false
	}
	e, c := l.e, l.c
	if p.m.Engine() != e || !l.opened || e.Closed() || c.Closed() || l.silentSrv || l.silentCli || l.broken {
		return nil, false
	}
	if l.post != nil || l.get == mGetResp || l.get == mGetLost || (l.ws != nil && len(l.ws.s2c)+len(l.ws.c2s) > 0) {
		return nil, false
	}
	if e.Upgrading() || c.Upgrading() || c.HasOutput() || l.woken || p.cliWoken || p.srvWoken {
		return nil, false
	}
	var out bool
	p.locked(func() { out = e.sess.HasOutput() })
	if out {
		return nil, false
	}
	return l, true
}

func (p *model) check() {
	defer func() {
		if len(p.errs) > 0 {
			for _, s := range p.log {
				p.t.Log(s)
			}
			p.t.Fatalf("%s", strings.Join(p.errs, "\n"))
		}
	}()
	// Acks: each table holds what is outstanding, nothing is overdue.
	pending := map[*mCliSock]int{}
	for _, a := range p.acks {
		if a.calls > 0 || !a.emitted || a.emitErr != nil {
			continue
		}
		if a.cs != nil {
			pending[a.cs]++
		}
		if !a.deadline.IsZero() && !p.now.Before(a.deadline) {
			p.failf("ack %s#%d: outstanding %v past its deadline", a.ev.nsp, a.ev.seq, p.now.Sub(a.deadline))
		}
	}
	timed := 0
	for _, b := range p.bcasts {
		if b.calls == 0 {
			timed++
			if !p.now.Before(b.deadline) {
				p.failf("broadcast ack %s#%d: outstanding %v past its deadline", b.ev.nsp, b.ev.seq, p.now.Sub(b.deadline))
			}
		}
	}
	if _, ok := p.srv.Deadline(); ok != (timed > 0) {
		p.failf("server-wide timer %v with %d broadcast acks outstanding", ok, timed)
	}
	for _, cs := range p.socks {
		var acks, sendBuf, recvBuf int
		p.locked(func() { acks, sendBuf, recvBuf = cs.s.acks.Len(), len(cs.s.sendBuf), len(cs.s.recvBuf) })
		if acks != pending[cs] {
			p.failf("client %s: %d acks pending, %d outstanding", cs.nsp, acks, pending[cs])
		}
		if sendBuf != len(cs.buffered) || sendBuf > p.maxBuf {
			p.failf("client %s: %d events buffered, the model knows %d, at most %d", cs.nsp, sendBuf, len(cs.buffered), p.maxBuf)
		}
		if recvBuf > p.m.Config().MaxBufferedEvents {
			p.failf("client %s: %d events received before the connect", cs.nsp, recvBuf)
		}
		if cs.s.Connected() != cs.connected {
			p.failf("client %s: connected %v, the handlers said %v", cs.nsp, cs.s.Connected(), cs.connected)
		}
		if cs.awaiting && !cs.s.Active() {
			p.failf("client %s: no longer active, and its Connect had no outcome (OnConnect or OnConnectError)", cs.nsp)
		}
	}
	// Queues stay within their bounds (a few control packets aside).
	if e := p.m.Engine(); e != nil {
		var q int
		p.locked(func() { q = e.sess.QueuedPackets() })
		if q > p.cliMaxQ+3 {
			p.failf("client: %d packets queued, bound %d", q, p.cliMaxQ)
		}
	}
	// The server's sockets and rooms are the model's.
	for _, nsp := range []string{"/", "/a", "/deny"} {
		if n, want := p.srv.Of(nsp).SocketCount(), len(p.openSrvSocks(nsp)); n != want {
			p.failf("server %s: %d sockets, the model has %d", nsp, n, want)
		}
	}
	for _, ss := range p.openSrvSocks("") {
		got := ss.s.Rooms()
		sort.Strings(got)
		var want []string
		for r := range ss.rooms {
			want = append(want, r)
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			p.failf("server %s: rooms %v, the model %v", ss.nsp, got, want)
		}
		if !ss.s.Connected() {
			p.failf("server %s: socket not connected, no disconnect seen", ss.nsp)
		}
	}
	// The heartbeats, and the deadlines of each connection.
	for _, l := range p.links {
		if l.c == nil || l.c.Closed() {
			continue
		}
		_, q := srvSession(l.c)
		if q > p.srvMaxQ+3 {
			p.failf("server link %d: %d packets queued, bound %d", l.id, q, p.srvMaxQ)
		}
		switch {
		case l.pingOut && !p.now.Before(l.pingAt.Add(p.pt)):
			p.failf("server link %d: open %v after an unanswered ping", l.id, p.now.Sub(l.pingAt))
		case !l.pingOut && !p.now.Before(l.srvLastPong.Add(p.pi)):
			p.failf("server link %d: no ping %v after the last pong", l.id, p.now.Sub(l.srvLastPong))
		}
		d, ok := l.c.Deadline()
		if !ok {
			p.failf("server link %d: open without a deadline", l.id)
		}
		for _, a := range p.acks {
			if a.ss != nil && a.ss.l == l && a.calls == 0 && a.emitted && a.emitErr == nil && !a.deadline.IsZero() && a.deadline.Before(d) {
				p.failf("server link %d: deadline %v after an ack's %v", l.id, d.Sub(t0), a.deadline.Sub(t0))
			}
		}
	}
	if l := p.cur; l != nil && !l.e.Closed() {
		if l.opened && !p.now.Before(l.cliLastPing.Add(p.pi+p.pt)) {
			p.failf("client link %d: open %v after the last ping", l.id, p.now.Sub(l.cliLastPing))
		}
		if !l.opened && !p.now.Before(l.dialAt.Add(p.openTimeout)) {
			p.failf("client link %d: opening for %v", l.id, p.now.Sub(l.dialAt))
		}
	}
	// Reconnection: an active socket without a session waits for one, not
	// longer than the backoff says.
	if !p.closing {
		if !p.expReconnect.IsZero() && !p.now.Before(p.expReconnect) {
			p.failf("client: reconnection %v late", p.now.Sub(p.expReconnect))
		}
		if p.m.Engine() == nil && p.anyActive() && p.expReconnect.IsZero() {
			p.failf("client: a socket is active, no session, no reconnection")
		}
		if e := p.m.Engine(); e != nil && (p.cur == nil || p.cur.e != e) {
			p.failf("client: a session the model did not dial")
		}
	}
	// Once idle and healthy, both sides agree, and nothing went missing.
	if l, ok := p.idleHealthy(); ok {
		p.count("idle healthy checks")
		for _, cs := range p.socks {
			ss := l.srv[cs.nsp]
			connected := cs.s.Connected()
			if l.orphan[cs.nsp] && !connected {
				continue
			}
			switch {
			case connected != (ss != nil):
				p.failf("idle link %d: client %s connected %v, server socket %v", l.id, cs.nsp, connected, ss != nil)
			case connected && cs.s.ID() != ss.s.ID():
				p.failf("idle link %d: client %s is %s, the server's %s", l.id, cs.nsp, cs.s.ID(), ss.s.ID())
			case cs.s.Active() && !connected:
				p.failf("idle link %d: client %s active, not connected", l.id, cs.nsp)
			}
		}
		for _, st := range p.streams {
			for _, ev := range st.evs {
				if ev.sent && !ev.delivered && !ev.mayLose && slices.Contains(ev.links, l) {
					p.failf("idle link %d: %c%s #%d lost", l.id, ev.dir, ev.nsp, ev.seq)
				}
			}
		}
		for _, a := range p.acks {
			if a.answeredOn == l && a.calls == 0 {
				p.failf("idle link %d: the answer to %s#%d never reached its callback", l.id, a.ev.nsp, a.ev.seq)
			}
		}
	}
}

// finish lets every timer run out on a healed network, checks that the
// sides agree, closes everything, and checks that every callback ran.
func (p *model) finish() {
	p.refuse = 0
	p.pump()
	end := p.now.Add(p.horizon)
	for _, a := range p.acks {
		if a.deadline.After(end) {
			end = a.deadline
		}
	}
	p.advance(end.Sub(p.now), false)
	p.check()
	if p.anyActive() {
		if _, ok := p.idleHealthy(); !ok {
			p.failf("an active socket, and no healthy idle link after %v", p.horizon)
		}
	}
	p.check()

	p.logf("the client closes")
	p.closing = true
	if l := p.cur; l != nil {
		for _, cs := range p.socks {
			if cs.s.Connected() {
				l.cliDisc[cs.nsp]++
				if l.srvDisc[cs.nsp] {
					l.mayForce = true
				}
			}
		}
	}
	p.m.Close(p.now)
	for _, cs := range p.socks {
		// The buffered events go with the manager.
		for _, ev := range cs.buffered {
			ev.mayLose = true
		}
		cs.buffered = nil
	}
	p.flush()
	p.pump()
	p.logf("the server closes")
	p.srvClosing = true
	p.srv.Close()
	p.flush()
	p.pump()
	p.jump(24*time.Hour, false)
	p.check()

	for _, a := range p.acks {
		if a.emitErr == nil && a.calls != 1 {
			p.failf("ack %c%s#%d called %d times", a.ev.dir, a.ev.nsp, a.ev.seq, a.calls)
		}
	}
	for _, b := range p.bcasts {
		if b.calls != 1 {
			p.failf("broadcast ack %s#%d called %d times", b.ev.nsp, b.ev.seq, b.calls)
		}
	}
	if n := p.srv.ConnCount(); n != 0 {
		p.failf("server: %d connections after Close", n)
	}
	if _, ok := p.m.Deadline(); ok {
		p.failf("client: a deadline after Close")
	}
	p.check()
}

func TestModel_SocketIO(t *testing.T) {
	stats := map[string]int{}
	defer func() {
		keys := make([]string, 0, len(stats))
		for k := range stats {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Logf("%6d %s", stats[k], k)
		}
	}()
	rapid.Check(t, func(rt *rapid.T) {
		p := newModel(t, rt)
		p.stats = stats
		p.count("runs")
		// Weighted: emits and a network that delivers make the sessions
		// worth checking; faults and disconnects come less often.
		type action struct {
			name   string
			weight int
			f      func(*rapid.T)
		}
		actions := map[string]func(*rapid.T){
			"": func(*rapid.T) { p.check(); p.count("steps") },
		}
		for _, a := range []action{
			{"clientConnect", 2, p.cliConnect},
			{"clientDisconnect", 1, p.cliDisconnect},
			{"clientEmit", 3, p.cliEmit},
			{"serverEmit", 3, p.srvEmit},
			{"broadcast", 2, p.broadcast},
			{"joinLeave", 1, p.joinLeave},
			{"serverDisconnect", 1, p.srvDisconnect},
			{"answerLate", 1, p.answerLate},
			{"deliver", 3, p.deliver},
			{"pump", 3, func(*rapid.T) { p.pump() }},
			{"clock", 2, p.clock},
			{"drive", 1, func(*rapid.T) { p.drive() }},
			{"upgrade", 1, func(*rapid.T) { p.upgrade() }},
			{"fault", 1, p.fault},
		} {
			for i := range a.weight {
				actions[a.name+strings.Repeat("'", i)] = a.f
			}
		}
		// Longer runs than rapid's default: a session needs some steps to
		// get anywhere interesting.
		for range 4 {
			rt.Repeat(actions)
		}
		p.finish()
	})
}
