package eio

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// framesString renders packets as WebSocket frames joined by "|", a binary
// frame as "bin:" and its bytes.
func framesString(pkts []Packet) string {
	parts := make([]string, len(pkts))
	for i, p := range pkts {
		f, binary := AppendFrame(nil, p)
		if binary {
			parts[i] = "bin:" + string(f)
		} else {
			parts[i] = string(f)
		}
	}
	return strings.Join(parts, "|")
}

// takeWire takes a session's output and renders it for its active transport:
// a polling body, or frames joined by "|".
func takeWire(s *Session) string {
	pkts := s.TakeOutput(nil)
	if len(pkts) == 0 {
		return ""
	}
	if s.Transport() == Polling {
		return string(AppendPayload(nil, pkts))
	}
	return framesString(pkts)
}

func takeProbe(s *Session) string { return framesString(s.TakeProbeOutput(nil)) }

func events(s *Session) string {
	var parts []string
	for {
		ev, ok := s.PollEvent()
		if !ok {
			return strings.Join(parts, ",")
		}
		switch ev.Kind {
		case EventOpen:
			parts = append(parts, "open")
		case EventMessage:
			if ev.Packet.Binary {
				parts = append(parts, "bin:"+string(ev.Packet.Data))
			} else {
				parts = append(parts, "msg:"+string(ev.Packet.Data))
			}
		case EventUpgrade:
			parts = append(parts, "upgrade")
		case EventProbeAbort:
			parts = append(parts, "abort")
		case EventClose:
			parts = append(parts, "close:"+ev.Reason.String())
		default:
			parts = append(parts, fmt.Sprintf("kind%d", ev.Kind))
		}
	}
}

func deadline(s *Session) time.Duration {
	d, ok := s.Deadline()
	if !ok {
		return -1
	}
	return d.Sub(t0)
}

// step is one line of a session script: an input at a time, then the
// output, the events and the deadline expected after it.
type step struct {
	at   time.Duration
	op   string // timeout, recv (frame or body on the active transport), probe (a probe frame), startProbe, complete, send, close, probeClose
	in   string
	out  string // expected takeWire; "-" skips the check
	pout string // expected takeProbe
	ev   string // expected events
	dl   time.Duration
	st   State
}

const none = time.Duration(-1)

func runScript(t *testing.T, s *Session, steps []step) {
	t.Helper()
	for i, st := range steps {
		now := at(st.at)
		var err error
		switch st.op {
		case "timeout":
			s.HandleTimeout(now)
		case "recv":
			if s.Transport() == Polling {
				err = s.HandlePayload(now, []byte(st.in))
			} else {
				err = s.HandleFrame(now, []byte(st.in), false)
			}
		case "probe":
			err = s.HandleProbeFrame(now, []byte(st.in), false)
		case "startProbe":
			err = s.StartProbe(now)
		case "complete":
			err = s.CompleteUpgrade(now)
		case "send":
			err = s.Send(false, text(Message, st.in))
		case "close":
			s.Close(ReasonForcedClose)
		case "probeClose":
			s.HandleProbeClose(now)
		case "":
		default:
			t.Fatalf("step %d: unknown op %q", i, st.op)
		}
		if err != nil {
			t.Fatalf("step %d (%s %q at %v): %v", i, st.op, st.in, st.at, err)
		}
		if st.out != "-" {
			if got := takeWire(s); got != st.out {
				t.Fatalf("step %d (%s %q at %v): output %q, want %q", i, st.op, st.in, st.at, got, st.out)
			}
		}
		if got := takeProbe(s); got != st.pout {
			t.Fatalf("step %d (%s %q at %v): probe output %q, want %q", i, st.op, st.in, st.at, got, st.pout)
		}
		if got := events(s); got != st.ev {
			t.Fatalf("step %d (%s %q at %v): events %q, want %q", i, st.op, st.in, st.at, got, st.ev)
		}
		if got := deadline(s); got != st.dl {
			t.Fatalf("step %d (%s %q at %v): deadline %v, want %v", i, st.op, st.in, st.at, got, st.dl)
		}
		if s.State() != st.st {
			t.Fatalf("step %d (%s %q at %v): state %v, want %v", i, st.op, st.in, st.at, s.State(), st.st)
		}
		if d, ok := s.Deadline(); ok && st.op == "timeout" && !d.After(now) {
			t.Fatalf("step %d: deadline %v not after now %v", i, d.Sub(t0), st.at)
		}
	}
}

const (
	sec = time.Second
	ms  = time.Millisecond
	ns  = time.Nanosecond
)

const hs300 = `0{"sid":"abc","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":100}`

func TestSpec_Heartbeat(t *testing.T) {
	open := "0" + `{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	tests := []struct {
		name  string
		role  Role
		tr    Transport
		steps []step
	}{
		{"server pings at pingInterval, not before, and times out at ping+pingTimeout", RoleServer, Polling, []step{
			{at: 0, out: open, dl: 25 * sec, st: StateOpen},
			{at: 25*sec - ns, op: "timeout", dl: 25 * sec, st: StateOpen},
			{at: 25 * sec, op: "timeout", out: "2", dl: 45 * sec, st: StateOpen},
			{at: 45*sec - ns, op: "timeout", dl: 45 * sec, st: StateOpen},
			{at: 45 * sec, op: "timeout", out: "1", ev: "close:ping timeout", dl: none, st: StateClosed},
		}},
		{"a pong re-arms the ping pingInterval after it", RoleServer, WebSocket, []step{
			{at: 0, out: open, dl: 25 * sec, st: StateOpen},
			{at: 25 * sec, op: "timeout", out: "2", dl: 45 * sec, st: StateOpen},
			{at: 30 * sec, op: "recv", in: "3", dl: 55 * sec, st: StateOpen},
			{at: 55*sec - ns, op: "timeout", dl: 55 * sec, st: StateOpen},
			{at: 55 * sec, op: "timeout", out: "2", dl: 75 * sec, st: StateOpen},
			{at: 75*sec - ns, op: "recv", in: "3", dl: 100*sec - ns, st: StateOpen},
			{at: 100 * sec, op: "timeout", out: "2", dl: 120 * sec, st: StateOpen},
			{at: 120 * sec, op: "timeout", out: "", ev: "close:ping timeout", dl: none, st: StateClosed},
		}},
		{"a late timer sends the ping late and times it from then", RoleServer, WebSocket, []step{
			{at: 0, out: open, dl: 25 * sec, st: StateOpen},
			{at: 40 * sec, op: "timeout", out: "2", dl: 60 * sec, st: StateOpen},
			{at: 59 * sec, op: "recv", in: "3", dl: 84 * sec, st: StateOpen},
		}},
		{"a huge jump still pings before it times out", RoleServer, WebSocket, []step{
			{at: 0, out: open, dl: 25 * sec, st: StateOpen},
			{at: 1000 * time.Hour, op: "timeout", out: "2", dl: 1000*time.Hour + 20*sec, st: StateOpen},
			{at: 2000 * time.Hour, op: "timeout", ev: "close:ping timeout", dl: none, st: StateClosed},
		}},
		{"client answers a ping with a pong and times out at ping+interval+timeout", RoleClient, WebSocket, []step{
			{at: 0, dl: 45 * sec, st: StateOpening},
			{at: 10 * ms, op: "recv", in: hs300, ev: "open", dl: 510 * ms, st: StateOpen},
			{at: 300 * ms, op: "recv", in: "2", out: "3", dl: 800 * ms, st: StateOpen},
			{at: 800*ms - ns, op: "timeout", dl: 800 * ms, st: StateOpen},
			{at: 700 * ms, op: "recv", in: "2", out: "3", dl: 1200 * ms, st: StateOpen},
			{at: 1200*ms - ns, op: "timeout", dl: 1200 * ms, st: StateOpen},
			{at: 1200 * ms, op: "timeout", ev: "close:ping timeout", dl: none, st: StateClosed},
		}},
		{"client on polling answers in a payload and queues a close packet on timeout", RoleClient, Polling, []step{
			{at: 0, dl: 45 * sec, st: StateOpening},
			{at: 0, op: "recv", in: hs300, ev: "open", dl: 500 * ms, st: StateOpen},
			{at: 100 * ms, op: "recv", in: "4a\x1e2\x1e4b", out: "3", ev: "msg:a,msg:b", dl: 600 * ms, st: StateOpen},
			{at: 600 * ms, op: "timeout", out: "1", ev: "close:ping timeout", dl: none, st: StateClosed},
		}},
		{"client that never gets the handshake times out", RoleClient, Polling, []step{
			{at: 45*sec - ns, op: "timeout", dl: 45 * sec, st: StateOpening},
			{at: 45 * sec, op: "timeout", ev: "close:ping timeout", dl: none, st: StateClosed},
		}},
		{"pongs do not reset a client's timer", RoleClient, WebSocket, []step{
			{at: 0, op: "recv", in: hs300, ev: "open", dl: 500 * ms, st: StateOpen},
			{at: 400 * ms, op: "recv", in: "3", dl: 500 * ms, st: StateOpen},
			{at: 450 * ms, op: "recv", in: "4x", ev: "msg:x", dl: 500 * ms, st: StateOpen},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *Session
			if tt.role == RoleServer {
				s = NewServerSession("s", Config{}, tt.tr, t0)
			} else {
				s = NewClientSession(Config{}, tt.tr, t0)
			}
			runScript(t, s, tt.steps)
		})
	}
}

func TestSpec_Message(t *testing.T) {
	tests := []struct {
		name string
		tr   Transport
		send []Packet
		wire string
		ev   string
	}{
		{"polling: text then binary", Polling, []Packet{text(Message, "hello"), bin(1, 2, 3, 4)},
			"4hello\x1ebAQIDBA==", "msg:hello,bin:\x01\x02\x03\x04"},
		{"websocket: text then binary", WebSocket, []Packet{text(Message, "hello"), bin(1, 2, 3, 4)},
			"4hello|bin:\x01\x02\x03\x04", "msg:hello,bin:\x01\x02\x03\x04"},
		{"polling: utf-8 and empty", Polling, []Packet{text(Message, "€"), text(Message, "")},
			"4€\x1e4", "msg:€,msg:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServerSession("sid", Config{}, tt.tr, t0)
			cli := NewClientSession(Config{}, tt.tr, t0)
			deliver := func(from, to *Session) string {
				pkts := from.TakeOutput(nil)
				if tt.tr == Polling {
					body := AppendPayload(nil, pkts)
					if err := to.HandlePayload(t0, body); err != nil {
						t.Fatal(err)
					}
					return string(body)
				}
				for _, p := range pkts {
					f, binary := AppendFrame(nil, p)
					if err := to.HandleFrame(t0, f, binary); err != nil {
						t.Fatal(err)
					}
				}
				return framesString(pkts)
			}
			deliver(srv, cli)
			if got := events(cli); got != "open" {
				t.Fatalf("client events %q", got)
			}
			// Server to client.
			if err := srv.Send(false, tt.send...); err != nil {
				t.Fatal(err)
			}
			if got := deliver(srv, cli); got != tt.wire {
				t.Fatalf("server wire %q, want %q", got, tt.wire)
			}
			if got := events(cli); got != tt.ev {
				t.Fatalf("client events %q, want %q", got, tt.ev)
			}
			// Client to server, one Send per packet.
			for _, p := range tt.send {
				if err := cli.Send(true, p); err != nil {
					t.Fatal(err)
				}
			}
			if got := deliver(cli, srv); got != tt.wire {
				t.Fatalf("client wire %q, want %q", got, tt.wire)
			}
			if got := events(srv); got != tt.ev {
				t.Fatalf("server events %q, want %q", got, tt.ev)
			}
		})
	}
}

// upgradeServer is a server on polling that allows upgrades, its open
// packet taken.
func upgradeServer(t *testing.T) *Session {
	t.Helper()
	s := NewServerSession("sid", Config{AllowUpgrades: true, UpgradeTimeout: 10 * sec}, Polling, t0)
	s.TakeOutput(nil)
	return s
}

// upgradeClient is a client on polling that has the hs300 handshake.
func upgradeClient(t *testing.T) *Session {
	t.Helper()
	c := NewClientSession(Config{UpgradeTimeout: 10 * sec}, Polling, t0)
	if err := c.HandlePayload(t0, []byte(hs300)); err != nil {
		t.Fatal(err)
	}
	if got := events(c); got != "open" {
		t.Fatalf("events %q", got)
	}
	return c
}

func TestSpec_Upgrade(t *testing.T) {
	t.Run("server: probe, noop, upgrade, then websocket", func(t *testing.T) {
		s := upgradeServer(t)
		if err := s.StartProbe(at(sec)); err != nil {
			t.Fatal(err)
		}
		if !s.Upgrading() || s.HasOutput() {
			t.Fatalf("probing: upgrading=%v hasOutput=%v", s.Upgrading(), s.HasOutput())
		}
		if got := deadline(s); got != 11*sec {
			t.Fatalf("deadline %v, want the upgrade timeout", got)
		}
		if err := s.HandleProbeFrame(at(sec), []byte("2probe"), false); err != nil {
			t.Fatal(err)
		}
		if got := takeProbe(s); got != "3probe" {
			t.Fatalf("probe output %q", got)
		}
		// A pending poll is released with a noop, as often as it asks.
		for range 3 {
			if !s.HasOutput() {
				t.Fatal("no output for a pending poll")
			}
			if got := takeWire(s); got != "6" {
				t.Fatalf("poll during the upgrade got %q, want the noop", got)
			}
		}
		// Packets queued meanwhile go out on polling, before the upgrade.
		if err := s.Send(false, text(Message, "before")); err != nil {
			t.Fatal(err)
		}
		if got := takeWire(s); got != "4before" {
			t.Fatalf("poll got %q", got)
		}
		// Packets queued and not taken go out on the websocket after.
		if err := s.Send(false, text(Message, "after")); err != nil {
			t.Fatal(err)
		}
		if err := s.HandleProbeFrame(at(2*sec), []byte("5"), false); err != nil {
			t.Fatal(err)
		}
		if got := events(s); got != "upgrade" {
			t.Fatalf("events %q", got)
		}
		if s.Transport() != WebSocket || s.Upgrading() {
			t.Fatalf("transport %v upgrading %v", s.Transport(), s.Upgrading())
		}
		if got := takeWire(s); got != "4after" {
			t.Fatalf("websocket output %q", got)
		}
		if s.HasOutput() {
			t.Fatal("noop after the upgrade")
		}
		if got := deadline(s); got != 25*sec {
			t.Fatalf("deadline %v, want the next ping", got)
		}
		// The probe is the active transport: its frames are handled as such.
		if err := s.HandleProbeFrame(at(3*sec), []byte("4on the socket"), false); err != nil {
			t.Fatal(err)
		}
		if err := s.HandleProbePacket(at(3*sec), text(Message, "and a packet")); err != nil {
			t.Fatal(err)
		}
		if got := events(s); got != "msg:on the socket,msg:and a packet" {
			t.Fatalf("events %q", got)
		}
		if err := s.StartProbe(at(3 * sec)); !errors.Is(err, ErrUpgrade) {
			t.Fatalf("second StartProbe: %v", err)
		}
	})

	t.Run("client: probe, pause, complete", func(t *testing.T) {
		c := upgradeClient(t)
		if err := c.StartProbe(at(10 * ms)); err != nil {
			t.Fatal(err)
		}
		if got := takeProbe(c); got != "2probe" {
			t.Fatalf("probe output %q", got)
		}
		if err := c.Send(false, text(Message, "a")); err != nil {
			t.Fatal(err)
		}
		// Probing: polling goes on.
		if c.PollingPaused() {
			t.Fatal("paused before the pong")
		}
		if got := takeWire(c); got != "4a" {
			t.Fatalf("polling output %q", got)
		}
		if err := c.HandleProbeFrame(at(20*ms), []byte("3probe"), false); err != nil {
			t.Fatal(err)
		}
		if !c.PollingPaused() || !c.Upgrading() {
			t.Fatal("not paused after the pong")
		}
		if err := c.Send(false, text(Message, "b"), text(Message, "c")); err != nil {
			t.Fatal(err)
		}
		if c.HasOutput() || takeWire(c) != "" {
			t.Fatal("output while paused")
		}
		// A poll in flight still delivers.
		if err := c.HandlePayload(at(30*ms), []byte("6\x1e4x")); err != nil {
			t.Fatal(err)
		}
		if got := events(c); got != "msg:x" {
			t.Fatalf("events %q", got)
		}
		if err := c.CompleteUpgrade(at(40 * ms)); err != nil {
			t.Fatal(err)
		}
		if got := events(c); got != "upgrade" {
			t.Fatalf("events %q", got)
		}
		if c.Transport() != WebSocket || c.PollingPaused() || c.Upgrading() {
			t.Fatal("not upgraded")
		}
		if got := takeProbe(c) + "+" + takeWire(c); got != "5+4b|4c" {
			t.Fatalf("output after the upgrade %q", got)
		}
	})

	t.Run("client: the upgrade packet goes first even through TakeOutput", func(t *testing.T) {
		c := upgradeClient(t)
		if err := c.StartProbe(t0); err != nil {
			t.Fatal(err)
		}
		takeProbe(c)
		if err := c.HandleProbeFrame(t0, []byte("3probe"), false); err != nil {
			t.Fatal(err)
		}
		if err := c.Send(false, text(Message, "b")); err != nil {
			t.Fatal(err)
		}
		if err := c.CompleteUpgrade(t0); err != nil {
			t.Fatal(err)
		}
		if !c.HasOutput() {
			t.Fatal("no output")
		}
		if got := takeWire(c); got != "5|4b" {
			t.Fatalf("output %q", got)
		}
		if got := takeProbe(c); got != "" {
			t.Fatalf("probe output %q after TakeOutput", got)
		}
	})

	t.Run("pair: end to end over a probe", func(t *testing.T) {
		s := upgradeServer(t)
		c := upgradeClient(t)
		if err := c.StartProbe(t0); err != nil {
			t.Fatal(err)
		}
		if err := s.StartProbe(t0); err != nil {
			t.Fatal(err)
		}
		relay := func(from, to *Session) {
			for _, p := range from.TakeProbeOutput(nil) {
				f, b := AppendFrame(nil, p)
				if err := to.HandleProbeFrame(t0, f, b); err != nil {
					t.Fatal(err)
				}
			}
		}
		relay(c, s) // 2probe
		relay(s, c) // 3probe
		if !c.PollingPaused() {
			t.Fatal("client not paused")
		}
		if err := c.CompleteUpgrade(t0); err != nil {
			t.Fatal(err)
		}
		relay(c, s) // 5
		if s.Transport() != WebSocket || c.Transport() != WebSocket {
			t.Fatal("not upgraded")
		}
		if events(s) != "upgrade" || events(c) != "upgrade" {
			t.Fatal("no upgrade events")
		}
	})
}

func TestUpgrade_Timeout(t *testing.T) {
	t.Run("server", func(t *testing.T) {
		s := upgradeServer(t)
		runScript(t, s, []step{
			{at: 1 * sec, op: "startProbe", dl: 11 * sec, st: StateOpen},
			{at: 2 * sec, op: "probe", in: "2probe", out: "6", pout: "3probe", dl: 11 * sec, st: StateOpen},
			{at: 11*sec - ns, op: "timeout", out: "6", dl: 11 * sec, st: StateOpen},
			{at: 11 * sec, op: "timeout", out: "", ev: "abort", dl: 25 * sec, st: StateOpen},
		})
		if s.Upgrading() || s.HasOutput() || s.Transport() != Polling {
			t.Fatal("still upgrading")
		}
		// A late upgrade packet is ignored.
		if err := s.HandleProbeFrame(at(12*sec), []byte("5"), false); err != nil || s.Transport() != Polling {
			t.Fatalf("late upgrade: %v, transport %v", err, s.Transport())
		}
		// Another probe may start.
		if err := s.StartProbe(at(12 * sec)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("client: a ping while paused is answered after the upgrade", func(t *testing.T) {
		c := upgradeClient(t)
		runScript(t, c, []step{
			{at: 100 * ms, op: "startProbe", pout: "2probe", dl: 500 * ms, st: StateOpen},
			{at: 100 * ms, op: "probe", in: "3probe", dl: 500 * ms, st: StateOpen},
			{at: 200 * ms, op: "recv", in: "2", out: "", dl: 700 * ms, st: StateOpen},
			{at: 300 * ms, op: "complete", out: "5|3", ev: "upgrade", dl: 700 * ms, st: StateOpen},
		})
	})
	t.Run("client times out before the pong", func(t *testing.T) {
		c := NewClientSession(Config{UpgradeTimeout: 100 * ms}, Polling, t0)
		runScript(t, c, []step{
			{at: 0, op: "recv", in: hs300, ev: "open", dl: 500 * ms, st: StateOpen},
			{at: 10 * ms, op: "startProbe", pout: "2probe", dl: 110 * ms, st: StateOpen},
			{at: 20 * ms, op: "probe", in: "3probe", dl: 110 * ms, st: StateOpen},
			{at: 30 * ms, op: "send", in: "m", out: "", dl: 110 * ms, st: StateOpen},
			{at: 110*ms - ns, op: "timeout", out: "", dl: 110 * ms, st: StateOpen},
			{at: 110 * ms, op: "timeout", out: "4m", ev: "abort", dl: 500 * ms, st: StateOpen},
		})
		if c.PollingPaused() || c.Upgrading() {
			t.Fatal("still paused")
		}
		if err := c.CompleteUpgrade(at(120 * ms)); !errors.Is(err, ErrUpgrade) {
			t.Fatalf("CompleteUpgrade after the timeout: %v", err)
		}
	})
}

func TestUpgrade_Abort(t *testing.T) {
	tests := []struct {
		name   string
		role   Role
		before []string // probe frames that succeed
		bad    string
		binary bool
	}{
		{"server: message instead of the probe", RoleServer, nil, "4hello", false},
		{"server: ping without probe", RoleServer, nil, "2", false},
		{"server: ping with other data", RoleServer, nil, "2probes", false},
		{"server: upgrade before the probe", RoleServer, nil, "5", false},
		{"server: second probe", RoleServer, []string{"2probe"}, "2probe", false},
		{"server: message instead of the upgrade", RoleServer, []string{"2probe"}, "4x", false},
		{"server: binary frame", RoleServer, nil, "\x01", true},
		{"server: bad frame", RoleServer, nil, "9", false},
		{"server: empty frame", RoleServer, []string{"2probe"}, "", false},
		{"client: pong without probe", RoleClient, nil, "3", false},
		{"client: message", RoleClient, nil, "4x", false},
		{"client: noop", RoleClient, nil, "6", false},
		{"client: second pong", RoleClient, []string{"3probe"}, "3probe", false},
		{"client: anything before CompleteUpgrade", RoleClient, []string{"3probe"}, "4x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *Session
			if tt.role == RoleServer {
				s = upgradeServer(t)
			} else {
				s = upgradeClient(t)
			}
			if err := s.StartProbe(t0); err != nil {
				t.Fatal(err)
			}
			takeProbe(s)
			for _, f := range tt.before {
				if err := s.HandleProbeFrame(t0, []byte(f), false); err != nil {
					t.Fatal(err)
				}
			}
			err := s.HandleProbeFrame(t0, []byte(tt.bad), tt.binary)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v, want an *Error", err)
			}
			if got := events(s); got != "abort" {
				t.Fatalf("events %q", got)
			}
			if s.Upgrading() || s.PollingPaused() || s.State() != StateOpen || s.Transport() != Polling {
				t.Fatalf("after abort: upgrading=%v paused=%v state=%v", s.Upgrading(), s.PollingPaused(), s.State())
			}
			if got := takeProbe(s); got != "" {
				t.Fatalf("probe output %q after abort", got)
			}
			if s.role == RoleServer && s.HasOutput() {
				t.Fatal("noop after abort")
			}
			// Further probe frames are ignored.
			if err := s.HandleProbeFrame(t0, []byte("2probe"), false); err != nil {
				t.Fatal(err)
			}
			if got := events(s) + takeProbe(s); got != "" {
				t.Fatalf("after abort: %q", got)
			}
		})
	}
}

func TestUpgrade_ProbeTooLarge(t *testing.T) {
	s := NewServerSession("sid", Config{AllowUpgrades: true, Limits: Limits{MaxPayload: 6}}, Polling, t0)
	if err := s.StartProbe(t0); err != nil {
		t.Fatal(err)
	}
	if err := s.HandleProbeFrame(t0, []byte("2probe"), false); err != nil {
		t.Fatalf("frame of MaxPayload bytes: %v", err)
	}
	err := s.HandleProbeFrame(t0, []byte("5xxxxxx"), false)
	asError(t, err, ErrPayloadTooLarge)
	if s.Upgrading() || s.State() != StateOpen {
		t.Fatal("probe not abandoned")
	}
}

func TestUpgrade_ProbeClose(t *testing.T) {
	t.Run("server probing", func(t *testing.T) {
		s := upgradeServer(t)
		_ = s.StartProbe(t0)
		_ = s.HandleProbeFrame(t0, []byte("2probe"), false)
		s.HandleProbeClose(at(sec))
		if got := events(s); got != "abort" {
			t.Fatalf("events %q", got)
		}
		if s.Upgrading() || s.HasOutput() || takeProbe(s) != "" || deadline(s) != 25*sec {
			t.Fatal("probe not abandoned")
		}
	})
	t.Run("client paused resumes polling", func(t *testing.T) {
		c := upgradeClient(t)
		_ = c.StartProbe(t0)
		_ = c.HandleProbeFrame(t0, []byte("3probe"), false)
		_ = c.Send(false, text(Message, "m"))
		if !c.PollingPaused() {
			t.Fatal("not paused")
		}
		c.HandleProbeClose(t0)
		if got := events(c); got != "abort" {
			t.Fatalf("events %q", got)
		}
		if c.PollingPaused() || takeWire(c) != "4m" {
			t.Fatal("polling not resumed")
		}
	})
	t.Run("after the upgrade it is the transport closing", func(t *testing.T) {
		c := upgradeClient(t)
		_ = c.StartProbe(t0)
		_ = c.HandleProbeFrame(t0, []byte("3probe"), false)
		_ = c.CompleteUpgrade(t0)
		events(c)
		c.HandleProbeClose(t0)
		if c.State() != StateClosed || c.Reason() != ReasonTransportClose {
			t.Fatalf("state %v reason %v", c.State(), c.Reason())
		}
		if got := events(c); got != "close:transport close" {
			t.Fatalf("events %q", got)
		}
	})
	t.Run("without a probe it does nothing", func(t *testing.T) {
		c := upgradeClient(t)
		c.HandleProbeClose(t0)
		if got := events(c); got != "" || c.State() != StateOpen {
			t.Fatalf("events %q state %v", got, c.State())
		}
	})
}

func TestStartProbe_Refused(t *testing.T) {
	closed := upgradeServer(t)
	closed.Close(ReasonForcedClose)
	clientBeforeOpen := NewClientSession(Config{}, Polling, t0)
	clientNoUpgrades := NewClientSession(Config{}, Polling, t0)
	_ = clientNoUpgrades.HandlePayload(t0, []byte(`0{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}`))
	twice := upgradeServer(t)
	_ = twice.StartProbe(t0)
	tests := []struct {
		name string
		s    *Session
	}{
		{"server without AllowUpgrades", NewServerSession("a", Config{}, Polling, t0)},
		{"server on websocket", NewServerSession("a", Config{AllowUpgrades: true}, WebSocket, t0)},
		{"closed server", closed},
		{"second probe", twice},
		{"client before the handshake", clientBeforeOpen},
		{"client without websocket in the handshake", clientNoUpgrades},
		{"client on websocket", NewClientSession(Config{}, WebSocket, t0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.s.StartProbe(t0); !errors.Is(err, ErrUpgrade) {
				t.Fatalf("StartProbe: %v", err)
			}
		})
	}
	if err := upgradeServer(t).CompleteUpgrade(t0); !errors.Is(err, ErrUpgrade) {
		t.Fatalf("server CompleteUpgrade: %v", err)
	}
	c := upgradeClient(t)
	if err := c.CompleteUpgrade(t0); !errors.Is(err, ErrUpgrade) {
		t.Fatalf("CompleteUpgrade without a probe: %v", err)
	}
	_ = c.StartProbe(t0)
	if err := c.CompleteUpgrade(t0); !errors.Is(err, ErrUpgrade) {
		t.Fatalf("CompleteUpgrade before the pong: %v", err)
	}
}

func TestClose(t *testing.T) {
	tests := []struct {
		name   string
		tr     Transport
		role   Role
		reason Reason
		out    string
		want   Reason
	}{
		{"server polling queues a close packet", Polling, RoleServer, ReasonForcedClose, "1", ReasonForcedClose},
		{"server polling shutting down", Polling, RoleServer, ReasonServerShuttingDown, "1", ReasonServerShuttingDown},
		{"server websocket queues nothing", WebSocket, RoleServer, ReasonForcedClose, "", ReasonForcedClose},
		{"client polling queues a close packet", Polling, RoleClient, ReasonForcedClose, "1", ReasonForcedClose},
		{"client websocket queues nothing", WebSocket, RoleClient, ReasonForcedClose, "", ReasonForcedClose},
		{"ReasonNone is a forced close", Polling, RoleServer, ReasonNone, "1", ReasonForcedClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *Session
			if tt.role == RoleServer {
				s = NewServerSession("sid", Config{}, tt.tr, t0)
				takeWire(s)
			} else {
				s = NewClientSession(Config{}, tt.tr, t0)
				if err := s.HandlePayload(t0, []byte(hs300)); err != nil {
					t.Fatal(err)
				}
				events(s)
			}
			s.Close(tt.reason)
			if got := takeWire(s); got != tt.out {
				t.Fatalf("output %q, want %q", got, tt.out)
			}
			if s.State() != StateClosed || s.Reason() != tt.want || s.Cause() != nil {
				t.Fatalf("state %v reason %v cause %v", s.State(), s.Reason(), s.Cause())
			}
			if got := events(s); got != "close:"+tt.want.String() {
				t.Fatalf("events %q", got)
			}
			if _, ok := s.Deadline(); ok {
				t.Fatal("deadline after close")
			}
			// Everything after the close is inert.
			s.Close(ReasonForcedClose)
			s.HandleTransportClose(t0, errors.New("x"))
			s.HandleTimeout(at(time.Hour))
			if err := s.HandlePayload(t0, []byte("4x")); err != nil {
				t.Fatal(err)
			}
			if err := s.HandleFrame(t0, []byte("9"), false); err != nil {
				t.Fatal(err)
			}
			if err := s.HandlePacket(t0, text(Message, "x")); err != nil {
				t.Fatal(err)
			}
			if err := s.Send(false, text(Message, "x")); !errors.Is(err, ErrClosed) {
				t.Fatalf("Send after close: %v", err)
			}
			if err := s.Send(true, text(Message, "x")); !errors.Is(err, ErrClosed) {
				t.Fatalf("volatile Send after close: %v", err)
			}
			if got := events(s) + takeWire(s); got != "" || s.Reason() != tt.want {
				t.Fatalf("after close: %q, reason %v", got, s.Reason())
			}
		})
	}
}

func TestClose_WhileUpgrading(t *testing.T) {
	s := upgradeServer(t)
	_ = s.StartProbe(t0)
	_ = s.HandleProbeFrame(t0, []byte("2probe"), false)
	_ = s.Send(false, text(Message, "m"))
	s.Close(ReasonForcedClose)
	if got := events(s); got != "abort,close:forced close" {
		t.Fatalf("events %q", got)
	}
	if got := takeWire(s); got != "4m\x1e1" {
		t.Fatalf("output %q", got)
	}
	if s.HasOutput() {
		t.Fatal("noop after close")
	}

	c := upgradeClient(t)
	_ = c.StartProbe(t0)
	_ = c.HandleProbeFrame(t0, []byte("3probe"), false)
	_ = c.Send(false, text(Message, "m"))
	c.Close(ReasonForcedClose)
	if c.PollingPaused() {
		t.Fatal("a closed client stays paused")
	}
	if got := events(c) + "+" + takeWire(c); got != "abort,close:forced close+4m\x1e1" {
		t.Fatalf("client %q", got)
	}
}

func TestPeerClose(t *testing.T) {
	// Over WebSocket a client closes the WebSocket: the reference ignores
	// a close packet there.
	ws := NewServerSession("sid", Config{}, WebSocket, t0)
	takeWire(ws)
	if err := ws.HandleFrame(t0, []byte("1"), false); err != nil || ws.State() != StateOpen || events(ws) != "" || takeWire(ws) != "" {
		t.Fatalf("close packet over websocket: err %v, state %v", err, ws.State())
	}
	for _, tr := range []Transport{Polling, WebSocket} {
		s := NewServerSession("sid", Config{}, tr, t0)
		takeWire(s)
		var err error
		if tr == Polling {
			err = s.HandlePayload(t0, []byte("4a\x1e1\x1e4b"))
		} else {
			s.HandleTransportClose(t0, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		if s.Reason() != ReasonTransportClose || s.Cause() != nil {
			t.Fatalf("%v: reason %v", tr, s.Reason())
		}
		want := "close:transport close"
		if tr == Polling {
			want = "msg:a," + want
		}
		if got := events(s); got != want {
			t.Fatalf("%v: events %q, want %q", tr, got, want)
		}
		if got := takeWire(s); got != "" {
			t.Fatalf("%v: a close packet answered a close: %q", tr, got)
		}
	}
	for _, cause := range []error{nil, errors.New("reset")} {
		s := NewServerSession("sid", Config{}, Polling, t0)
		takeWire(s)
		s.HandleTransportClose(t0, cause)
		want := ReasonTransportClose
		if cause != nil {
			want = ReasonTransportError
		}
		if s.Reason() != want || s.Cause() != cause || takeWire(s) != "" {
			t.Fatalf("transport close %v: reason %v cause %v", cause, s.Reason(), s.Cause())
		}
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name   string
		role   Role
		tr     Transport
		in     string
		binary bool
		code   ErrorCode
		ev     string // events before the close
		reason Reason // ReasonParseError when zero
	}{
		{"empty payload", RoleServer, Polling, "", false, ErrEmptyPacket, "", ReasonNone},
		{"empty packet between separators", RoleServer, Polling, "4a\x1e\x1e4b", false, ErrEmptyPacket, "msg:a,", ReasonNone},
		{"unknown type digit", RoleServer, Polling, "4a\x1e8", false, ErrUnknownType, "msg:a,", ReasonNone},
		{"bad base64", RoleServer, Polling, "b!!", false, ErrBadBase64, "", ReasonNone},
		{"ping from a client on polling", RoleServer, Polling, "2", false, ErrUnexpectedPacket, "", ReasonTransportError},
		{"ping from a client on websocket", RoleServer, WebSocket, "2", false, ErrUnexpectedPacket, "", ReasonTransportError},
		{"empty frame", RoleServer, WebSocket, "", false, ErrEmptyPacket, "", ReasonNone},
		{"unknown type in a frame", RoleServer, WebSocket, "x", false, ErrUnknownType, "", ReasonNone},
		{"client: message before open", RoleClient, Polling, "4a", false, ErrUnexpectedPacket, "", ReasonNone},
		{"client: ping before open", RoleClient, WebSocket, "2", false, ErrUnexpectedPacket, "", ReasonNone},
		{"client: binary before open", RoleClient, WebSocket, "\x01", true, ErrUnexpectedPacket, "", ReasonNone},
		{"client: bad handshake", RoleClient, Polling, "0{", false, ErrBadHandshake, "", ReasonNone},
		{"client: empty handshake", RoleClient, WebSocket, "0", false, ErrBadHandshake, "", ReasonNone},
		{"client: bad payload before open", RoleClient, Polling, "\x1e", false, ErrEmptyPacket, "", ReasonNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *Session
			if tt.role == RoleServer {
				s = NewServerSession("sid", Config{}, tt.tr, t0)
				takeWire(s)
			} else {
				s = NewClientSession(Config{}, tt.tr, t0)
			}
			var err error
			if tt.tr == Polling {
				err = s.HandlePayload(t0, []byte(tt.in))
			} else {
				err = s.HandleFrame(t0, []byte(tt.in), tt.binary)
			}
			asError(t, err, tt.code)
			reason := tt.reason
			if reason == ReasonNone {
				reason = ReasonParseError
			}
			if s.State() != StateClosed || s.Reason() != reason || s.Cause() != err {
				t.Fatalf("state %v reason %v cause %v", s.State(), s.Reason(), s.Cause())
			}
			if got := events(s); got != tt.ev+"close:"+reason.String() {
				t.Fatalf("events %q", got)
			}
			want := ""
			if tt.tr == Polling && tt.role == RoleServer {
				want = "1"
			}
			if got := takeWire(s); got != want {
				t.Fatalf("output %q, want %q", got, want)
			}
		})
	}
}

func TestLimits_MaxPayload_Session(t *testing.T) {
	const max = 32
	for _, tr := range []Transport{Polling, WebSocket} {
		for _, size := range []int{max - 1, max, max + 1} {
			t.Run(fmt.Sprintf("%v/%d", tr, size), func(t *testing.T) {
				s := NewServerSession("sid", Config{Limits: Limits{MaxPayload: max}}, tr, t0)
				takeWire(s)
				in := "4" + strings.Repeat("x", size-1)
				var err error
				if tr == Polling {
					err = s.HandlePayload(t0, []byte(in))
				} else {
					err = s.HandleFrame(t0, []byte(in), false)
				}
				if size <= max {
					if err != nil || s.State() != StateOpen {
						t.Fatalf("%d bytes: %v", size, err)
					}
					return
				}
				e := asError(t, err, ErrPayloadTooLarge)
				if e.Limit != max || s.Reason() != ReasonParseError {
					t.Fatalf("limit %d reason %v", e.Limit, s.Reason())
				}
			})
		}
	}
	// Binary frames count too.
	s := NewServerSession("sid", Config{Limits: Limits{MaxPayload: max}}, WebSocket, t0)
	asError(t, s.HandleFrame(t0, make([]byte, max+1), true), ErrPayloadTooLarge)
}

func TestLimits_MaxPacketsPerPayload_Session(t *testing.T) {
	const max = 4
	for _, n := range []int{max - 1, max, max + 1} {
		s := NewServerSession("sid", Config{Limits: Limits{MaxPacketsPerPayload: max}}, Polling, t0)
		takeWire(s)
		body := strings.TrimSuffix(strings.Repeat("4m\x1e", n), "\x1e")
		err := s.HandlePayload(t0, []byte(body))
		if n <= max {
			if err != nil || s.State() != StateOpen {
				t.Fatalf("%d packets: %v", n, err)
			}
			continue
		}
		asError(t, err, ErrTooManyPackets)
		if s.Reason() != ReasonParseError {
			t.Fatalf("reason %v", s.Reason())
		}
	}
}

func TestLimits_Queue(t *testing.T) {
	const max = 4
	newS := func(cfg Config) *Session {
		s := NewServerSession("sid", cfg, WebSocket, t0)
		takeWire(s)
		return s
	}
	t.Run("MaxQueuedPackets", func(t *testing.T) {
		for _, volatile := range []bool{true, false} {
			s := newS(Config{MaxQueuedPackets: max})
			for i := range max {
				if err := s.Send(volatile, text(Message, "m")); err != nil {
					t.Fatalf("packet %d of %d: %v", i+1, max, err)
				}
			}
			err := s.Send(volatile, text(Message, "m"))
			if volatile {
				if !errors.Is(err, ErrQueueFull) || s.State() != StateOpen || s.QueuedPackets() != max {
					t.Fatalf("volatile over the limit: %v, state %v, %d queued", err, s.State(), s.QueuedPackets())
				}
				// Taking the output makes room again.
				if got := takeWire(s); got != "4m|4m|4m|4m" {
					t.Fatalf("output %q", got)
				}
				if err := s.Send(true, text(Message, "n")); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if !errors.Is(err, ErrSlowConsumer) || s.State() != StateClosed || s.Reason() != ReasonTransportError ||
				!errors.Is(s.Cause(), ErrSlowConsumer) {
				t.Fatalf("over the limit: %v, state %v reason %v cause %v", err, s.State(), s.Reason(), s.Cause())
			}
			if got := events(s); got != "close:transport error" {
				t.Fatalf("events %q", got)
			}
		}
	})
	t.Run("MaxQueuedBytes", func(t *testing.T) {
		const maxBytes = 10
		for _, volatile := range []bool{true, false} {
			s := newS(Config{MaxQueuedBytes: maxBytes})
			if err := s.Send(volatile, text(Message, strings.Repeat("x", maxBytes-1))); err != nil {
				t.Fatal(err)
			}
			if err := s.Send(volatile, text(Message, "y")); err != nil {
				t.Fatalf("exactly at the limit: %v", err)
			}
			err := s.Send(volatile, bin(1))
			if volatile {
				if !errors.Is(err, ErrQueueFull) || s.State() != StateOpen {
					t.Fatalf("volatile over the limit: %v", err)
				}
				continue
			}
			if !errors.Is(err, ErrSlowConsumer) || s.Reason() != ReasonTransportError || !errors.Is(s.Cause(), ErrSlowConsumer) {
				t.Fatalf("over the limit: %v reason %v", err, s.Reason())
			}
			var ev Event
			for e, ok := s.PollEvent(); ok; e, ok = s.PollEvent() {
				ev = e
			}
			if ev.Kind != EventClose || !errors.Is(ev.Err, ErrSlowConsumer) {
				t.Fatalf("close event %+v", ev)
			}
		}
	})
	t.Run("all or none", func(t *testing.T) {
		s := newS(Config{MaxQueuedPackets: max})
		_ = s.Send(true, text(Message, "a"), text(Message, "b"), text(Message, "c"))
		if err := s.Send(true, text(Message, "d"), text(Message, "e")); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("over the limit: %v", err)
		}
		if s.QueuedPackets() != 3 {
			t.Fatalf("%d queued, want 3", s.QueuedPackets())
		}
		s2 := newS(Config{MaxQueuedBytes: 5})
		if err := s2.Send(true, text(Message, "abc"), text(Message, "def")); !errors.Is(err, ErrQueueFull) || s2.QueuedPackets() != 0 {
			t.Fatalf("over the byte limit: %v, %d queued", err, s2.QueuedPackets())
		}
	})
	t.Run("a polling slow consumer gets no close packet", func(t *testing.T) {
		s := NewServerSession("sid", Config{MaxQueuedPackets: 2}, Polling, t0)
		_ = s.Send(false, text(Message, "a"))
		_ = s.Send(false, text(Message, "b"))
		if s.State() != StateClosed {
			t.Fatal("open packet not counted")
		}
		if got := takeWire(s); strings.HasSuffix(got, "\x1e1") {
			t.Fatalf("close packet queued for a slow consumer: %q", got)
		}
	})
}

func TestTakeOutputLimit(t *testing.T) {
	s := NewServerSession("sid", Config{}, Polling, t0)
	takeWire(s)
	for _, m := range []string{"aaaa", "bb", "cccccc", "d"} {
		_ = s.Send(false, text(Message, m))
	}
	// "4aaaa" is 5 bytes, "\x1e4bb" 4 more: 9.
	tests := []struct {
		max  int
		want string
	}{
		{8, "4aaaa"},
		{9, "4aaaa\x1e4bb"},
	}
	for _, tt := range tests {
		c := *s
		c.out = append([]Packet(nil), s.out...)
		if got := string(AppendPayload(nil, c.TakeOutputLimit(nil, tt.max))); got != tt.want {
			t.Fatalf("max %d: %q, want %q", tt.max, got, tt.want)
		}
	}
	if got := string(AppendPayload(nil, s.TakeOutputLimit(nil, 1))); got != "4aaaa" {
		t.Fatalf("always one packet: %q", got)
	}
	if s.outBytes != 9 || s.QueuedPackets() != 3 {
		t.Fatalf("accounting: %d bytes %d packets", s.outBytes, s.QueuedPackets())
	}
	if got := string(AppendPayload(nil, s.TakeOutputLimit(nil, 1000))); got != "4bb\x1e4cccccc\x1e4d" {
		t.Fatalf("the rest: %q", got)
	}
	if s.outBytes != 0 || s.QueuedPackets() != 0 || s.HasOutput() {
		t.Fatal("queue not empty")
	}
	if got := s.TakeOutputLimit(nil, 10); len(got) != 0 {
		t.Fatalf("empty queue: %v", got)
	}
	// Binary packets are measured in base64.
	_ = s.Send(false, bin(1, 2, 3), bin(4))
	if got := string(AppendPayload(nil, s.TakeOutputLimit(nil, 9))); got != "bAQID" {
		t.Fatalf("binary: %q", got)
	}
	if got := string(AppendPayload(nil, s.TakeOutputLimit(nil, 5))); got != "bBA==" {
		t.Fatalf("binary: %q", got)
	}
}

func TestEvents_Order(t *testing.T) {
	c := upgradeClient(t) // consumed "open"
	if err := c.HandlePayload(t0, []byte("4a\x1e4b")); err != nil {
		t.Fatal(err)
	}
	_ = c.StartProbe(t0)
	_ = c.HandleProbeFrame(t0, []byte("3probe"), false)
	_ = c.HandlePayload(t0, []byte("4c"))
	_ = c.CompleteUpgrade(t0)
	_ = c.HandleFrame(t0, []byte("4d"), false)
	_ = c.HandleFrame(t0, []byte("\x05"), true)
	_ = c.HandleFrame(t0, []byte("1"), false)
	_ = c.HandleFrame(t0, []byte("4e"), false)
	if got := events(c); got != "msg:a,msg:b,msg:c,upgrade,msg:d,bin:\x05,close:transport close" {
		t.Fatalf("events %q", got)
	}
	if _, ok := c.PollEvent(); ok {
		t.Fatal("event after the last")
	}

	// Interleaved polling keeps the queue bounded and the order.
	s := NewServerSession("sid", Config{}, WebSocket, t0)
	for i := range 100 {
		_ = s.HandleFrame(t0, []byte(fmt.Sprintf("4%d", i)), false)
		ev, ok := s.PollEvent()
		if !ok || string(ev.Packet.Data) != fmt.Sprint(i) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	if cap(s.events) > 4 {
		t.Fatalf("event queue grew to %d", cap(s.events))
	}
}

func TestSend_BeforeOpen(t *testing.T) {
	c := NewClientSession(Config{}, WebSocket, t0)
	if err := c.Send(false, text(Message, "early")); err != nil {
		t.Fatalf("Send while opening: %v", err)
	}
	_ = c.HandleFrame(t0, []byte(hs300[:len(hs300)]), false)
	if got := takeWire(c); got != "4early" {
		t.Fatalf("output %q", got)
	}
}

// The pong must not keep a reference to the caller's buffer.
func TestPong_DoesNotAliasInput(t *testing.T) {
	c := NewClientSession(Config{}, Polling, t0)
	_ = c.HandlePayload(t0, []byte(hs300))
	body := []byte("2xyz")
	if err := c.HandlePayload(t0, body); err != nil {
		t.Fatal(err)
	}
	copy(body, "4!!!")
	out := c.TakeOutput(nil)
	if len(out) != 1 || out[0].Type != Pong || len(out[0].Data) != 0 {
		t.Fatalf("output %+v", out)
	}
}

func TestAccessors(t *testing.T) {
	s := NewServerSession("sid", Config{PingInterval: sec}, WebSocket, t0)
	if s.SID() != "sid" || s.Role() != RoleServer || s.Role().String() != "server" || s.Config().PingTimeout != DefaultPingTimeout ||
		s.Config().PingInterval != sec || s.Config().Limits.MaxPayload != DefaultMaxPayload {
		t.Fatal("server accessors")
	}
	c := NewClientSession(Config{}, WebSocket, t0)
	if c.Role() != RoleClient || c.Role().String() != "client" || c.State().String() != "opening" {
		t.Fatal("client accessors")
	}
	if StateOpen.String() != "open" || StateClosed.String() != "closed" {
		t.Fatal("state strings")
	}
	cfg := Config{}.WithDefaults()
	if cfg.UpgradeTimeout != DefaultUpgradeTimeout || cfg.MaxQueuedPackets != DefaultMaxQueuedPackets ||
		cfg.MaxQueuedBytes != DefaultMaxQueuedBytes || cfg.Limits.MaxPacketsPerPayload != DefaultMaxPacketsPerPayload {
		t.Fatalf("defaults %+v", cfg)
	}
}

// The server's timers run on the whole milliseconds its handshake announces.
func TestConfig_WholeMillis(t *testing.T) {
	tests := []struct{ in, want time.Duration }{
		{1500 * time.Microsecond, ms},
		{500 * time.Microsecond, ms},
		{ns, ms},
		{2*sec + 999*time.Microsecond, 2 * sec},
		{0, DefaultPingInterval},
	}
	for _, tt := range tests {
		s := NewServerSession("sid", Config{PingInterval: tt.in, PingTimeout: tt.in}, WebSocket, t0)
		hs, err := ParseHandshake(s.TakeOutput(nil)[0].Data)
		if err != nil {
			t.Fatalf("%v: %v", tt.in, err)
		}
		wantTimeout := tt.want
		if tt.in == 0 {
			wantTimeout = DefaultPingTimeout
		}
		if hs.PingInterval != tt.want || hs.PingTimeout != wantTimeout || s.Config().PingInterval != tt.want {
			t.Fatalf("%v: handshake %v/%v, config %v", tt.in, hs.PingInterval, hs.PingTimeout, s.Config().PingInterval)
		}
		if got := deadline(s); got != tt.want {
			t.Fatalf("%v: first ping at %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestAllocs_SendTake(t *testing.T) {
	s := NewServerSession("sid", Config{}, WebSocket, t0)
	p := text(Message, "hello")
	buf := make([]Packet, 0, 8)
	step := func() {
		_ = s.Send(false, p)
		_ = s.Send(true, p, p)
		buf = s.TakeOutput(buf[:0])
	}
	step()
	if n := testing.AllocsPerRun(100, step); n != 0 {
		t.Errorf("Send+TakeOutput in steady state: %v allocs", n)
	}
	c := NewClientSession(Config{}, WebSocket, t0)
	_ = c.HandleFrame(t0, []byte(hs300), false)
	events(c)
	frame := []byte("4hello")
	ping := []byte("2")
	in := func() {
		_ = c.HandleFrame(t0, frame, false)
		_ = c.HandleFrame(t0, ping, false)
		_, _ = c.PollEvent()
		buf = c.TakeOutput(buf[:0])
	}
	in()
	if n := testing.AllocsPerRun(100, in); n != 0 {
		t.Errorf("HandleFrame+PollEvent+TakeOutput in steady state: %v allocs", n)
	}
}

func BenchmarkSessionSendTake(b *testing.B) {
	s := NewServerSession("sid", Config{}, WebSocket, t0)
	p := text(Message, strings.Repeat("x", 40))
	buf := make([]Packet, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Send(false, p)
		buf = s.TakeOutput(buf[:0])
	}
}

// TestSharedServerSessionConfig: sessions share a configuration that has
// its defaults, and one without them gets a copy with them, the shared
// value untouched.
func TestSharedServerSessionConfig(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	full := Config{PingInterval: 3 * time.Second}.WithDefaults()
	a := NewSharedServerSession("a", &full, WebSocket, now)
	b := NewSharedServerSession("b", &full, Polling, now)
	if a.Config() != full || b.Config() != full || a.cfg != &full || b.cfg != &full {
		t.Fatal("sessions do not share a configuration with its defaults")
	}
	bare := Config{PingInterval: 3 * time.Second}
	c := NewSharedServerSession("c", &bare, WebSocket, now)
	if c.Config() != full || bare != (Config{PingInterval: 3 * time.Second}) {
		t.Fatalf("config %+v, shared one now %+v", c.Config(), bare)
	}
	if hs := b.Handshake(); hs.SID != "b" || hs.PingInterval != 3*time.Second || hs.MaxPayload != full.Limits.MaxPayload {
		t.Fatalf("handshake %+v", hs)
	}
}

// TestQueuesKeepLittleOnceDrained: a session reuses its output queue for
// one packet at a time without allocating, and after a burst it keeps no
// array larger than keepSlots, nor the probe's queue after an upgrade.
func TestQueuesKeepLittleOnceDrained(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	s := NewServerSession("sid", Config{AllowUpgrades: true}, Polling, now)
	dst := s.TakeOutput(make([]Packet, 0, 64))
	msg := Packet{Type: Message, Data: []byte("x")}
	if n := testing.AllocsPerRun(100, func() {
		if err := s.Send(false, msg); err != nil {
			t.Fatal(err)
		}
		dst = s.TakeOutput(dst[:0])
	}); n != 0 {
		t.Fatalf("send and take of one packet: %v allocations", n)
	}
	for range 3 * keepSlots {
		_ = s.Send(false, msg)
	}
	if dst = s.TakeOutput(dst[:0]); len(dst) != 3*keepSlots || cap(s.out) != 0 {
		t.Fatalf("after a burst: took %d, queue capacity %d", len(dst), cap(s.out))
	}
	for range 3 * keepSlots {
		_ = s.Send(false, msg)
	}
	for s.HasOutput() {
		dst = s.TakeOutputLimit(dst[:0], 2)
	}
	if cap(s.out) != 0 {
		t.Fatalf("after a burst taken in parts: queue capacity %d", cap(s.out))
	}
	if err := s.StartProbe(now); err != nil {
		t.Fatal(err)
	}
	if err := s.HandleProbeFrame(now, []byte("2probe"), false); err != nil {
		t.Fatal(err)
	}
	if out := s.TakeProbeOutput(nil); len(out) != 1 || s.probeOut != nil {
		t.Fatalf("probe output %v, kept %d", out, cap(s.probeOut))
	}
}
