package eio

// A model-based test of a server session and a client session wired
// together in memory: a virtual clock, a polling link (the client's GET and
// POST requests) and a WebSocket link (the initial transport, or the probe
// of an upgrade that then carries the session). The network only moves when
// an action says so, which models delay; a dropped frame breaks its link.

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var (
	errBroken = errors.New("link broken")
	errHTTP   = errors.New("http 400")
)

type wsFrame struct {
	data   []byte
	binary bool
}

type wsLink struct {
	probe    bool // opened as an upgrade probe, else the initial transport
	s2c, c2s []wsFrame
}

type getState uint8

const (
	getNone    getState = iota
	getPending          // the GET waits at the server
	getResp             // the response is on its way to the client
)

type sentMsg struct {
	seq    int
	data   []byte
	binary bool
}

type peer struct {
	name   string
	s      *Session
	silent bool // the peer stopped doing anything at all

	// Event bookkeeping.
	nEvents    int
	sawOpen    bool
	sawUpgrade bool
	closed     bool
	reason     Reason

	// What explains a close.
	forced   bool // the test called Close
	mayErr   bool // a transport failed under it, or it was a slow consumer
	mayClose bool // a link was closed under it

	// Its messages, by the peer that sends them.
	nextSeq int
	sent    []sentMsg
	bySeq   map[int]sentMsg
	recv    []int // seqs received from the other peer
}

// modelStats counts what the model test went through, for -v.
type modelStats map[string]int

type pair struct {
	t       *rapid.T
	stats   modelStats
	now     time.Time
	cfg     Config
	pollMax int
	srv     *peer
	cli     *peer

	ws      *wsLink
	get     getState
	getBody []byte
	post    []byte

	dropped bool // a link carrying the session broke: messages may be lost

	// The heartbeat as the protocol defines it.
	srvLastPong time.Time // or the session's start
	srvPingOut  bool
	srvPingAt   time.Time
	cliLastPing time.Time // or the client's start, or the handshake
	cliBeat     time.Duration

	log []string
}

func (p *pair) logf(format string, args ...any) {
	p.log = append(p.log, fmt.Sprintf("%v ", p.now.Sub(t0))+fmt.Sprintf(format, args...))
}

func (p *pair) fatalf(format string, args ...any) {
	p.t.Helper()
	for _, l := range p.log {
		p.t.Log(l)
	}
	p.t.Fatalf("at %v: "+format, append([]any{p.now.Sub(t0)}, args...)...)
}

func (p *pair) other(pe *peer) *peer {
	if pe == p.srv {
		return p.cli
	}
	return p.srv
}

func (p *pair) count(what string) {
	if p.stats != nil {
		p.stats[what]++
	}
}

// chance is true about once in n draws. Rapid favours the ends of a range,
// so the rare outcome sits in the middle; it shrinks to false.
func chance(t *rapid.T, label string, n int) bool {
	return rapid.IntRange(0, n-1).Draw(t, label) == n/2
}

func newPair(t *rapid.T) *pair {
	cfg := Config{
		PingInterval:     time.Duration(rapid.IntRange(50, 1000).Draw(t, "pingInterval")) * ms,
		PingTimeout:      time.Duration(rapid.IntRange(20, 1000).Draw(t, "pingTimeout")) * ms,
		UpgradeTimeout:   time.Duration(rapid.IntRange(20, 2000).Draw(t, "upgradeTimeout")) * ms,
		AllowUpgrades:    !chance(t, "noUpgrades", 5),
		MaxQueuedPackets: rapid.IntRange(3, 40).Draw(t, "maxQueuedPackets"),
		MaxQueuedBytes:   rapid.IntRange(150, 3000).Draw(t, "maxQueuedBytes"),
		Limits:           Limits{MaxPayload: rapid.IntRange(100, 5000).Draw(t, "maxPayload")},
	}
	tr := Polling
	if chance(t, "websocketFirst", 4) {
		tr = WebSocket
	}
	p := &pair{
		t:       t,
		now:     t0,
		cfg:     cfg,
		pollMax: rapid.IntRange(1, 500).Draw(t, "pollMax"),
	}
	p.srv = &peer{name: "server", bySeq: map[int]sentMsg{}}
	p.cli = &peer{name: "client", bySeq: map[int]sentMsg{}}
	p.logf("config %+v on %v, poll max %d", cfg, tr, p.pollMax)
	// The client's first request creates the server session.
	// The client takes whatever the server sends: no payload limit of its own.
	ccfg := cfg
	ccfg.Limits = Limits{}
	p.cli.s = NewClientSession(ccfg, tr, p.now)
	p.srv.s = NewServerSession("sid", cfg, tr, p.now)
	p.srvLastPong = p.now
	p.cliLastPing = p.now
	p.cliBeat = cfg.PingInterval + cfg.PingTimeout
	if tr == WebSocket {
		p.ws = &wsLink{}
	} else {
		p.get = getPending // the handshake request
	}
	p.flush()
	return p
}

// Message data carries its direction and sequence number.
var fillers = []string{"", "x", "héllo", "€€€", "0123456789012345678901234567890123456789", "b64?", "4", "\x00\x01"}

func (p *pair) send(pe *peer) {
	if pe.silent {
		return
	}
	volatile := rapid.Bool().Draw(p.t, "volatile")
	n := 1
	if chance(p.t, "multi", 6) {
		n = rapid.IntRange(0, 3).Draw(p.t, "n")
	}
	pkts := make([]Packet, n)
	msgs := make([]sentMsg, n)
	size := 0
	for i := range pkts {
		seq := pe.nextSeq
		pe.nextSeq++
		filler := fillers[rapid.IntRange(0, len(fillers)-1).Draw(p.t, "filler")]
		m := sentMsg{seq: seq}
		if chance(p.t, "binary", 4) {
			m.binary = true
			m.data = append([]byte{pe.name[0], byte(seq >> 24), byte(seq >> 16), byte(seq >> 8), byte(seq), Separator}, filler...)
		} else {
			m.data = []byte(string(pe.name[0]) + strconv.Itoa(seq) + "|" + filler)
		}
		msgs[i] = m
		pkts[i] = Packet{Type: Message, Binary: m.binary, Data: m.data}
		size += len(m.data)
	}
	s := pe.s
	stateBefore, queuedBefore, bytesBefore := s.State(), len(s.out), s.outBytes
	err := s.Send(volatile, pkts...)
	p.logf("%s sends %d packets (volatile %v): %v", pe.name, n, volatile, err)
	over := queuedBefore+n > p.cfg.MaxQueuedPackets || bytesBefore+size > p.cfg.MaxQueuedBytes
	switch {
	case stateBefore == StateClosed:
		if !errors.Is(err, ErrClosed) {
			p.fatalf("%s: Send on a closed session: %v", pe.name, err)
		}
	case err == nil:
		if over {
			p.fatalf("%s: Send accepted over the limits", pe.name)
		}
		if len(s.out) != queuedBefore+n {
			p.fatalf("%s: Send queued %d packets of %d", pe.name, len(s.out)-queuedBefore, n)
		}
		for _, m := range msgs {
			pe.sent = append(pe.sent, m)
			pe.bySeq[m.seq] = m
		}
	case errors.Is(err, ErrQueueFull):
		if !volatile || !over || len(s.out) != queuedBefore || s.State() != stateBefore {
			p.fatalf("%s: ErrQueueFull volatile=%v over=%v", pe.name, volatile, over)
		}
	case errors.Is(err, ErrSlowConsumer):
		if volatile || !over || s.State() != StateClosed {
			p.fatalf("%s: ErrSlowConsumer volatile=%v over=%v", pe.name, volatile, over)
		}
		pe.mayErr = true
	default:
		p.fatalf("%s: Send: %v", pe.name, err)
	}
	p.flush()
}

// The inputs, each wrapped with the protocol's expectations.

func (p *pair) srvTimeout() {
	s := p.srv.s
	if p.srv.silent || s.State() == StateClosed {
		return
	}
	before := len(s.out)
	s.HandleTimeout(p.now)
	p.logf("server timeout")
	if s.State() == StateClosed {
		return // the close event checks the reason
	}
	if len(s.out) > before {
		if p.srvPingOut {
			p.fatalf("server: second ping with one outstanding")
		}
		if p.now.Before(p.srvLastPong.Add(p.cfg.PingInterval)) {
			p.fatalf("server: ping %v after the last pong, before pingInterval", p.now.Sub(p.srvLastPong))
		}
		p.srvPingOut, p.srvPingAt = true, p.now
		p.logf("server pings")
		p.count("pings")
	} else if !p.srvPingOut && !p.now.Before(p.srvLastPong.Add(p.cfg.PingInterval)) {
		p.fatalf("server: no ping %v after the last pong", p.now.Sub(p.srvLastPong))
	}
	if p.srvPingOut && !p.now.Before(p.srvPingAt.Add(p.cfg.PingTimeout)) {
		p.fatalf("server: open %v after an unanswered ping", p.now.Sub(p.srvPingAt))
	}
	if d, ok := s.Deadline(); ok && !d.After(p.now) {
		p.fatalf("server: deadline %v not after now", d.Sub(t0))
	}
}

func (p *pair) cliTimeout() {
	c := p.cli.s
	if p.cli.silent || c.State() == StateClosed {
		return
	}
	c.HandleTimeout(p.now)
	p.logf("client timeout")
	if c.State() == StateClosed {
		return
	}
	if !p.now.Before(p.cliLastPing.Add(p.cliBeat)) {
		p.fatalf("client: open %v after the last ping", p.now.Sub(p.cliLastPing))
	}
	if d, ok := c.Deadline(); ok && !d.After(p.now) {
		p.fatalf("client: deadline %v not after now", d.Sub(t0))
	}
}

func (p *pair) fireTimers() {
	for _, pe := range []*peer{p.srv, p.cli} {
		if pe.silent {
			continue
		}
		if d, ok := pe.s.Deadline(); ok && !d.After(p.now) {
			if pe == p.srv {
				p.srvTimeout()
			} else {
				p.cliTimeout()
			}
		}
	}
}

func (p *pair) srvSawPong() {
	if p.srv.s.State() != StateClosed {
		p.srvPingOut, p.srvLastPong = false, p.now
	}
}

func (p *pair) cliSaw(open, ping bool) {
	c := p.cli.s
	if c.State() == StateClosed {
		return
	}
	if open {
		hs := c.Handshake()
		p.cliBeat = hs.PingInterval + hs.PingTimeout
		p.cliLastPing = p.now
	}
	if ping {
		p.cliLastPing = p.now
	}
}

// scan reports the heartbeat packets in a body.
func scan(body []byte) (open, ping, pong bool) {
	_ = DecodePayload(body, Limits{}, func(q Packet) error {
		switch q.Type {
		case Open:
			open = true
		case Ping:
			ping = true
		case Pong:
			pong = true
		}
		return nil
	})
	return
}

func (p *pair) srvBody(body []byte) {
	_, _, pong := scan(body)
	p.logf("server gets body %q", body)
	if err := p.srv.s.HandlePayload(p.now, body); err != nil {
		p.fatalf("server: HandlePayload(%q): %v", body, err)
	}
	if pong {
		p.srvSawPong()
	}
}

func (p *pair) cliBody(body []byte) {
	open, ping, _ := scan(body)
	wasOpening := p.cli.s.State() == StateOpening
	p.logf("client gets body %q", body)
	if err := p.cli.s.HandlePayload(p.now, body); err != nil {
		p.fatalf("client: HandlePayload(%q): %v", body, err)
	}
	p.cliSaw(open && wasOpening, ping)
}

func (p *pair) srvFrame(f wsFrame) {
	s := p.srv.s
	active := s.Transport() == WebSocket
	p.logf("server gets frame %q (binary %v)", f.data, f.binary)
	var err error
	if p.ws.probe && (!active || chance(p.t, "probeFrame", 2)) {
		// Once upgraded, a driver may go on with the probe's calls.
		err = s.HandleProbeFrame(p.now, f.data, f.binary)
	} else {
		err = s.HandleFrame(p.now, f.data, f.binary)
	}
	if err != nil {
		p.fatalf("server: frame %q: %v", f.data, err)
	}
	if active && !f.binary && string(f.data) == "3" {
		p.srvSawPong()
	}
}

func (p *pair) cliFrame(f wsFrame) {
	c := p.cli.s
	active := c.Transport() == WebSocket
	wasOpening := c.State() == StateOpening
	p.logf("client gets frame %q (binary %v)", f.data, f.binary)
	var err error
	if p.ws.probe && (!active || chance(p.t, "probeFrame", 2)) {
		err = c.HandleProbeFrame(p.now, f.data, f.binary)
	} else {
		err = c.HandleFrame(p.now, f.data, f.binary)
	}
	if err != nil {
		p.fatalf("client: frame %q: %v", f.data, err)
	}
	if active && !f.binary && len(f.data) > 0 {
		p.cliSaw(f.data[0] == '0' && wasOpening, string(f.data) == "2")
	}
}

// The links.

func (p *pair) deliverToServer() bool {
	if p.ws == nil || len(p.ws.c2s) == 0 || p.srv.silent {
		return false
	}
	f := p.ws.c2s[0]
	p.ws.c2s = p.ws.c2s[1:]
	if p.srv.s.State() != StateClosed {
		p.srvFrame(f)
	}
	return true
}

func (p *pair) deliverToClient() bool {
	if p.ws == nil || len(p.ws.s2c) == 0 || p.cli.silent {
		return false
	}
	f := p.ws.s2c[0]
	p.ws.s2c = p.ws.s2c[1:]
	if p.cli.s.State() != StateClosed {
		p.cliFrame(f)
	}
	return true
}

func (p *pair) deliverGet() bool {
	if p.get != getResp || p.cli.silent {
		return false
	}
	body := p.getBody
	p.get, p.getBody = getNone, nil
	if p.cli.s.State() != StateClosed {
		p.cliBody(body)
	}
	return true
}

func (p *pair) deliverPost() bool {
	if p.post == nil || p.srv.silent {
		return false
	}
	body := p.post
	p.post = nil
	if p.srv.s.State() == StateClosed {
		p.logf("server closed: POST %q fails", body)
		p.httpError()
		return true
	}
	p.srvBody(body)
	return true
}

// httpError is a request to a server that no longer knows the session.
func (p *pair) httpError() {
	c := p.cli.s
	if !p.cli.silent && c.State() != StateClosed && c.Transport() == Polling {
		p.cli.mayErr = true
		c.HandleTransportClose(p.now, errHTTP)
	}
}

func (p *pair) canPoll() bool {
	c := p.cli.s
	return !p.cli.silent && p.cli.sawOpen && c.State() == StateOpen && c.Transport() == Polling &&
		!c.PollingPaused() && p.get == getNone
}

func (p *pair) startGet() bool {
	if !p.canPoll() {
		return false
	}
	p.logf("client polls")
	p.get = getPending
	return true
}

func (p *pair) startPost() bool {
	c := p.cli.s
	if p.cli.silent || !p.cli.sawOpen || c.Transport() != Polling || c.PollingPaused() || p.post != nil || !c.HasOutput() {
		return false
	}
	pkts := c.TakeOutputLimit(nil, p.srv.s.Handshake().MaxPayload)
	p.post = AppendPayload(nil, pkts)
	if len(p.post) > p.cfg.Limits.MaxPayload {
		p.fatalf("client: POST of %d bytes over maxPayload", len(p.post))
	}
	p.logf("client posts %q", p.post)
	return true
}

func (p *pair) completeUpgrade() bool {
	c := p.cli.s
	if p.cli.silent || !c.PollingPaused() || p.get != getNone || p.post != nil {
		return false
	}
	if err := c.CompleteUpgrade(p.now); err != nil {
		p.fatalf("client: CompleteUpgrade: %v", err)
	}
	p.logf("client completes the upgrade")
	return true
}

func (p *pair) startUpgrade() {
	c := p.cli.s
	if p.cli.silent || p.ws != nil || !p.cli.sawOpen {
		return
	}
	err := c.StartProbe(p.now)
	p.logf("client starts a probe: %v", err)
	if err != nil {
		if c.State() == StateOpen && c.Transport() == Polling && p.cfg.AllowUpgrades && !c.Upgrading() {
			p.fatalf("client: StartProbe refused: %v", err)
		}
		return
	}
	p.ws = &wsLink{probe: true}
	if p.srv.silent {
		return // the WebSocket hangs
	}
	if err := p.srv.s.StartProbe(p.now); err != nil {
		// The server turns the WebSocket away.
		p.logf("server refuses the probe: %v", err)
		p.closeWS(p.srv, false)
	}
}

// closeWS ends the WebSocket link from one side. A clean close delivers the
// frames that side already sent; a broken link loses every frame.
func (p *pair) closeWS(from *peer, broken bool) {
	w := p.ws
	if w == nil {
		return
	}
	to := p.other(from)
	p.logf("%s closes the websocket (broken %v)", from.name, broken)
	if !broken && !to.silent {
		for {
			var ok bool
			if to == p.cli {
				ok = p.deliverToClient()
			} else {
				ok = p.deliverToServer()
			}
			if !ok {
				break
			}
		}
	}
	p.ws = nil
	for _, pe := range []*peer{to, from} {
		if pe.silent || pe.s.State() == StateClosed || (pe == from && !broken) {
			continue
		}
		switch {
		case broken && pe.s.Transport() == WebSocket:
			pe.mayErr = true
			pe.s.HandleTransportClose(p.now, errBroken)
		case !w.probe:
			pe.mayClose = true
			pe.s.HandleTransportClose(p.now, nil)
		default:
			pe.mayClose = true
			pe.s.HandleProbeClose(p.now)
		}
	}
}

// flush drains events and outputs until nothing moves, as the driver of a
// session must after every call.
func (p *pair) flush() {
	for range 100 {
		moved := false
		for _, pe := range []*peer{p.srv, p.cli} {
			if pe.silent {
				continue
			}
			if p.drainEvents(pe) {
				moved = true
			}
			if p.ws != nil {
				var frames *[]wsFrame
				if pe == p.srv {
					frames = &p.ws.s2c
				} else {
					frames = &p.ws.c2s
				}
				// A driver may take either output first.
				var pkts []Packet
				if pe.s.Transport() == WebSocket && chance(p.t, "outputFirst", 2) {
					pkts = pe.s.TakeOutput(pkts)
					pkts = pe.s.TakeProbeOutput(pkts)
				} else {
					pkts = pe.s.TakeProbeOutput(pkts)
					if pe.s.Transport() == WebSocket {
						pkts = pe.s.TakeOutput(pkts)
					}
				}
				for _, q := range pkts {
					f, binary := AppendFrame(nil, q)
					*frames = append(*frames, wsFrame{f, binary})
					moved = true
				}
			}
		}
		if p.get == getPending && !p.srv.silent {
			s := p.srv.s
			switch {
			case s.Transport() == Polling && s.HasOutput():
				p.getBody = AppendPayload(nil, s.TakeOutputLimit(nil, p.pollMax))
				p.get = getResp
				p.logf("server answers the poll %q", p.getBody)
				moved = true
			case s.State() == StateClosed:
				p.logf("server closed: the poll fails")
				p.get = getNone
				p.httpError()
				moved = true
			case s.Transport() == WebSocket:
				p.fatalf("server upgraded with a poll pending")
			}
		}
		if !moved {
			return
		}
	}
	p.fatalf("flush does not settle")
}

func (p *pair) drainEvents(pe *peer) bool {
	moved := false
	for {
		ev, ok := pe.s.PollEvent()
		if !ok {
			return moved
		}
		moved = true
		if pe.closed {
			p.fatalf("%s: event %d after the close", pe.name, ev.Kind)
		}
		if pe == p.cli && pe.nEvents == 0 && ev.Kind != EventOpen && ev.Kind != EventClose {
			p.fatalf("client: first event %d, not open", ev.Kind)
		}
		pe.nEvents++
		switch ev.Kind {
		case EventOpen:
			if pe == p.srv || pe.sawOpen {
				p.fatalf("%s: open event", pe.name)
			}
			pe.sawOpen = true
			p.logf("client open")
		case EventMessage:
			p.received(pe, ev.Packet)
			p.count("messages delivered")
		case EventUpgrade:
			if pe.sawUpgrade || pe.s.Transport() != WebSocket {
				p.fatalf("%s: upgrade event", pe.name)
			}
			pe.sawUpgrade = true
			p.count(pe.name + " upgraded")
			p.logf("%s upgraded", pe.name)
		case EventProbeAbort:
			p.logf("%s abandons the probe: %v", pe.name, ev.Err)
			p.count(pe.name + " probe aborted")
			if p.ws != nil && p.ws.probe && pe.s.Transport() == Polling {
				p.closeWS(pe, false)
			}
		case EventClose:
			pe.closed, pe.reason = true, ev.Reason
			p.logf("%s closed: %v (%v)", pe.name, ev.Reason, ev.Err)
			p.checkClose(pe, ev)
			p.count(pe.name + " closed: " + ev.Reason.String())
			if p.ws != nil && (pe.s.Transport() == WebSocket || p.ws.probe) {
				p.closeWS(pe, false)
			}
		default:
			p.fatalf("%s: event kind %d", pe.name, ev.Kind)
		}
	}
}

func (p *pair) checkClose(pe *peer, ev Event) {
	if pe.s.State() != StateClosed || pe.s.Reason() != ev.Reason {
		p.fatalf("%s: close event %v, state %v reason %v", pe.name, ev.Reason, pe.s.State(), pe.s.Reason())
	}
	switch ev.Reason {
	case ReasonForcedClose:
		if !pe.forced {
			p.fatalf("%s: forced close nobody asked for", pe.name)
		}
	case ReasonTransportError:
		if !pe.mayErr {
			p.fatalf("%s: transport error without a failure (%v)", pe.name, ev.Err)
		}
	case ReasonTransportClose:
		if !pe.mayClose && !p.other(pe).closed {
			p.fatalf("%s: transport close while the peer is open", pe.name)
		}
	case ReasonPingTimeout:
		if pe == p.srv {
			if !p.srvPingOut || p.now.Before(p.srvPingAt.Add(p.cfg.PingTimeout)) {
				p.fatalf("server: ping timeout %v after the ping (outstanding %v)", p.now.Sub(p.srvPingAt), p.srvPingOut)
			}
		} else if p.now.Before(p.cliLastPing.Add(p.cliBeat)) {
			p.fatalf("client: ping timeout %v after the last ping", p.now.Sub(p.cliLastPing))
		}
	default:
		p.fatalf("%s: close %v (%v)", pe.name, ev.Reason, ev.Err)
	}
}

// received checks a message against what the other peer sent.
func (p *pair) received(pe *peer, q Packet) {
	from := p.other(pe)
	var seq int
	if q.Binary {
		if len(q.Data) < 6 || q.Data[0] != from.name[0] {
			p.fatalf("%s: stray binary message %q", pe.name, q.Data)
		}
		seq = int(q.Data[1])<<24 | int(q.Data[2])<<16 | int(q.Data[3])<<8 | int(q.Data[4])
	} else {
		i := bytes.IndexByte(q.Data, '|')
		if i < 2 || q.Data[0] != from.name[0] {
			p.fatalf("%s: stray message %q", pe.name, q.Data)
		}
		n, err := strconv.Atoi(string(q.Data[1:i]))
		if err != nil {
			p.fatalf("%s: stray message %q", pe.name, q.Data)
		}
		seq = n
	}
	m, ok := from.bySeq[seq]
	if !ok || m.binary != q.Binary || !bytes.Equal(m.data, q.Data) {
		p.fatalf("%s: message %d %q was not sent as such", pe.name, seq, q.Data)
	}
	if n := len(pe.recv); n > 0 && pe.recv[n-1] >= seq {
		p.fatalf("%s: message %d after %d: duplicated or reordered", pe.name, seq, pe.recv[n-1])
	}
	if !p.dropped && (len(pe.recv) >= len(from.sent) || from.sent[len(pe.recv)].seq != seq) {
		p.fatalf("%s: message %d skips one sent before it", pe.name, seq)
	}
	pe.recv = append(pe.recv, seq)
}

// pump runs the network until nothing moves, as a fast healthy network
// does, completing a paused upgrade on the way.
func (p *pair) pump() {
	for range 1000 {
		if !(p.deliverToServer() || p.deliverToClient() || p.deliverGet() || p.deliverPost() ||
			p.completeUpgrade() || p.startPost() || p.startGet()) {
			return
		}
		p.flush()
	}
	p.fatalf("the network does not settle")
}

// drive jumps the clock to the next deadline of a live peer and fires it.
func (p *pair) drive() {
	var next time.Time
	for _, pe := range []*peer{p.srv, p.cli} {
		if pe.silent {
			continue
		}
		if d, ok := pe.s.Deadline(); ok && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	if next.IsZero() {
		return
	}
	if next.Before(p.now) {
		p.fatalf("deadline %v in the past", next.Sub(t0))
	}
	p.now = next
	p.fireTimers()
	p.flush()
}

func (p *pair) advance(d time.Duration) {
	p.now = p.now.Add(d)
	p.logf("clock +%v", d)
	p.fireTimers()
	p.flush()
}

// drop breaks one link that has something in flight.
func (p *pair) drop() {
	var choices []string
	if p.ws != nil && (len(p.ws.s2c) > 0 || len(p.ws.c2s) > 0) {
		choices = append(choices, "ws")
	}
	if p.get == getResp {
		choices = append(choices, "get")
	}
	if p.post != nil {
		choices = append(choices, "post")
	}
	if len(choices) == 0 {
		return
	}
	switch rapid.SampledFrom(choices).Draw(p.t, "link") {
	case "ws":
		carries := p.srv.s.Transport() == WebSocket || p.cli.s.Transport() == WebSocket
		if carries {
			p.dropped = true
		}
		p.logf("the websocket breaks")
		p.closeWS(p.srv, true)
	case "get", "post":
		p.logf("a polling request breaks")
		p.dropped = true
		p.get, p.getBody, p.post = getNone, nil, nil
		for _, pe := range []*peer{p.srv, p.cli} {
			if !pe.silent && pe.s.State() != StateClosed && pe.s.Transport() == Polling {
				pe.mayErr = true
				pe.s.HandleTransportClose(p.now, errBroken)
			}
		}
	}
	p.flush()
	for _, pe := range []*peer{p.srv, p.cli} {
		if pe.silent || pe.s.State() != StateClosed {
			continue
		}
		if r := pe.s.Reason(); r == ReasonParseError || r == ReasonNone {
			p.fatalf("%s: closed with %v after a broken link", pe.name, r)
		}
	}
}

// completeness checks that each peer got every message the other sent.
func (p *pair) completeness() {
	for _, pe := range []*peer{p.srv, p.cli} {
		from := p.other(pe)
		if len(pe.recv) != len(from.sent) {
			p.fatalf("%s got %d messages of %d", pe.name, len(pe.recv), len(from.sent))
		}
	}
}

func (p *pair) bothOpen() bool {
	return p.srv.s.State() == StateOpen && p.cli.s.State() == StateOpen
}

func (p *pair) check() {
	for _, pe := range []*peer{p.srv, p.cli} {
		s := pe.s
		msgs, bytes := 0, 0
		for _, q := range s.out {
			if q.Type == Message {
				msgs++
				bytes += len(q.Data)
			}
		}
		if msgs > p.cfg.MaxQueuedPackets || len(s.out) > p.cfg.MaxQueuedPackets+3 || bytes > p.cfg.MaxQueuedBytes {
			p.fatalf("%s: queue of %d packets, %d messages, %d bytes", pe.name, len(s.out), msgs, bytes)
		}
		if len(s.probeOut) > 2 {
			p.fatalf("%s: probe queue of %d", pe.name, len(s.probeOut))
		}
		d, ok := s.Deadline()
		if s.State() == StateClosed {
			if ok {
				p.fatalf("%s: closed with a deadline", pe.name)
			}
			continue
		}
		if pe.silent {
			continue
		}
		if !ok {
			p.fatalf("%s: open without a deadline", pe.name)
		}
		if !d.After(p.now) {
			p.fatalf("%s: deadline %v not after now", pe.name, d.Sub(t0))
		}
		// The timer must be armed no later than the protocol's deadline.
		var due time.Time
		if pe == p.srv {
			due = p.srvLastPong.Add(p.cfg.PingInterval)
			if p.srvPingOut {
				due = p.srvPingAt.Add(p.cfg.PingTimeout)
			}
		} else {
			due = p.cliLastPing.Add(p.cliBeat)
		}
		if d.After(due) {
			p.fatalf("%s: deadline %v after the heartbeat's %v", pe.name, d.Sub(t0), due.Sub(t0))
		}
		if s.Transport() == WebSocket && s.PollingPaused() {
			p.fatalf("%s: paused on websocket", pe.name)
		}
	}
}

func TestModel_Pair(t *testing.T) {
	stats := modelStats{}
	defer func() { t.Log(stats) }()
	rapid.Check(t, func(t *rapid.T) {
		p := newPair(t)
		p.stats = stats
		p.count("runs")
		p.check()
		actions := map[string]func(*rapid.T){
			"serverSend":      func(*rapid.T) { p.send(p.srv) },
			"clientSend":      func(*rapid.T) { p.send(p.cli) },
			"clientPoll":      func(*rapid.T) { p.startGet(); p.flush() },
			"clientPost":      func(*rapid.T) { p.startPost(); p.flush() },
			"deliverPoll":     func(*rapid.T) { p.deliverGet(); p.flush() },
			"deliverPost":     func(*rapid.T) { p.deliverPost(); p.flush() },
			"deliverToClient": func(*rapid.T) { p.deliverToClient(); p.flush() },
			"deliverToServer": func(*rapid.T) { p.deliverToServer(); p.flush() },
			"startUpgrade":    func(*rapid.T) { p.startUpgrade(); p.flush() },
			"completeUpgrade": func(*rapid.T) { p.completeUpgrade(); p.flush() },
			"advance": func(t *rapid.T) {
				beat := p.cfg.PingInterval + p.cfg.PingTimeout
				var d time.Duration
				switch {
				case chance(t, "jump", 40): // whoever waits for the other times out
					d = time.Duration(rapid.Int64Range(1, 1000).Draw(t, "beats")) * beat
				case chance(t, "long", 40):
					d = time.Duration(rapid.Int64Range(0, 2*int64(beat)).Draw(t, "d"))
				default:
					d = time.Duration(rapid.Int64Range(0, int64(p.cfg.PingTimeout/2)).Draw(t, "d"))
				}
				p.advance(d)
				if !chance(t, "networkLags", 4) {
					p.pump() // mostly the network keeps up
				}
			},
			"drive": func(*rapid.T) { p.drive(); p.pump() },
			"settle": func(*rapid.T) {
				p.pump()
				if p.bothOpen() && !p.dropped && !p.srv.silent && !p.cli.silent {
					p.completeness()
					p.count("complete deliveries checked")
				}
			},
			"fault": func(t *rapid.T) {
				switch rapid.IntRange(0, 29).Draw(t, "fault") {
				case 10:
					p.drop()
				case 15:
					if !p.srv.silent && !p.cli.silent {
						pe := p.srv
						if rapid.Bool().Draw(t, "clientSilent") {
							pe = p.cli
						}
						pe.silent = true
						p.logf("%s goes silent", pe.name)
					}
				case 20:
					pe := p.srv
					if rapid.Bool().Draw(t, "clientCloses") {
						pe = p.cli
					}
					if !pe.silent {
						pe.forced = true
						pe.s.Close(ReasonForcedClose)
						p.logf("%s: Close", pe.name)
						p.flush()
					}
				}
			},
			"": func(*rapid.T) { p.check(); p.count("steps") },
		}
		// Longer runs than rapid's default: a session needs some steps to
		// get anywhere interesting.
		for range 4 {
			t.Repeat(actions)
		}

		// The end: a silent peer is found dead, a healthy pair stays up.
		switch {
		case p.srv.silent || p.cli.silent:
			live := p.srv
			if p.srv.silent {
				live = p.cli
			}
			wasOpen := live.s.State() != StateClosed
			for i := 0; i < 10 && live.s.State() != StateClosed; i++ {
				p.drive()
				p.pump()
				p.check()
			}
			if live.s.State() != StateClosed {
				p.fatalf("%s: a silent peer is not found dead", live.name)
			}
			if wasOpen && live.s.Reason() != ReasonPingTimeout {
				p.fatalf("%s: a silent peer found dead with %v", live.name, live.s.Reason())
			}
		case p.bothOpen():
			p.pump()
			p.check()
			if !p.dropped {
				p.completeness()
			}
			for range 6 {
				p.drive()
				p.pump()
				p.check()
			}
			if !p.bothOpen() {
				p.fatalf("a healthy pair closed: server %v, client %v", p.srv.s.Reason(), p.cli.s.Reason())
			}
		}
	})
}

// A healthy pair on a fast network with upgrades stays open through many
// heartbeats, and its messages all arrive.
func TestPair_LongHealthy(t *testing.T) {
	stats := modelStats{}
	defer func() { t.Log(stats) }()
	rapid.Check(t, func(rt *rapid.T) {
		p := newPair(rt)
		p.stats = stats
		for i := range 200 {
			if i%7 == 0 {
				p.send(p.srv)
			}
			if i%5 == 0 {
				p.send(p.cli)
			}
			if i == 50 {
				p.startUpgrade()
			}
			p.drive()
			p.pump()
			p.check()
			if !p.bothOpen() {
				// Only a slow consumer may close it.
				if !p.srv.mayErr && !p.cli.mayErr {
					p.fatalf("closed: server %v, client %v", p.srv.s.Reason(), p.cli.s.Reason())
				}
				return
			}
		}
		p.completeness()
	})
}
