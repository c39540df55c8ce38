package client

// The client core wired to the server core in memory: a virtual clock, and
// a link that moves Engine.IO packets between Manager's Engine and
// core.Conn as a polling exchange (payloads) or a WebSocket (frames). The
// network only moves in pump, so every test is deterministic and a
// heartbeat timeout takes no wall-clock time.

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/eio"
)

type pair struct {
	t    *testing.T
	now  time.Time
	srv  *core.Server
	m    *Manager
	e    *Engine
	conn *core.Conn
	tr   eio.Transport

	viaProbe bool // the server's session was upgraded: frames go to HandleProbeFrame
	silent   bool // the server's output is not delivered
	cliEnded bool // the client's transport end was reported to the server
	srvEnded bool // the server's transport end was reported to the client
	autoDial bool // a session the manager asks for is connected at once
}

var errHTTP400 = errors.New("http 400")

func newPair(t *testing.T, tr eio.Transport, scfg core.Config, ccfg Config) *pair {
	p := &pair{t: t, now: t0, tr: tr, autoDial: true}
	if scfg.Engine.PingInterval == 0 {
		scfg.Engine.PingInterval = sec
		scfg.Engine.PingTimeout = 500 * ms
	}
	scfg.Engine.AllowUpgrades = true
	scfg.Clock = func() time.Time { return p.now }
	scfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	p.srv = core.NewServer(scfg)
	ccfg.Transport = tr
	ccfg.Rand = func() float64 { return 0 }
	p.m = NewManager(ccfg)
	return p
}

// dial connects the session the manager asks for to a new server
// connection.
func (p *pair) dial() bool {
	e := p.m.TakeDial()
	if e == nil {
		return false
	}
	c, err := p.srv.NewConn(e.Transport(), core.Handshake{RawQuery: "EIO=4"}, p.now, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	p.e, p.conn = e, c
	p.viaProbe, p.cliEnded, p.srvEnded = false, false, false
	return true
}

// pump moves packets both ways until nothing moves.
func (p *pair) pump() {
	p.t.Helper()
	for range 1000 {
		if p.autoDial && p.dial() {
			continue
		}
		if p.e == nil {
			return
		}
		if !p.step() {
			return
		}
	}
	p.t.Fatal("the pair does not settle")
}

func (p *pair) step() bool {
	moved := false
	e, c := p.e, p.conn
	switch e.Transport() {
	case eio.Polling:
		if out := e.TakeOutputOn(eio.Polling, nil, 0); len(out) > 0 {
			_ = c.HandlePayload(p.now, eio.AppendPayload(nil, out))
			moved = true
		}
		if !p.silent && !e.PollingPaused() && !e.Closed() {
			out := c.TakeOutput(nil)
			switch {
			case len(out) == 1 && out[0].Type == eio.Noop:
				// A released poll: the client polls again, quietly.
			case len(out) > 0:
				_ = e.HandlePayload(p.now, eio.AppendPayload(nil, out))
				moved = true
			case c.Closed() && !p.srvEnded:
				// The session is gone: the next poll is refused.
				p.srvEnded = true
				e.HandleTransportClose(p.now, errHTTP400)
				moved = true
			}
		}
	case eio.WebSocket:
		for _, pk := range e.TakeOutputOn(eio.WebSocket, nil, 0) {
			f, bin := eio.AppendFrame(nil, pk)
			if p.viaProbe {
				_ = c.HandleProbeFrame(p.now, f, bin)
			} else {
				_ = c.HandleFrame(p.now, f, bin)
			}
			moved = true
		}
		if !p.silent {
			for _, pk := range c.TakeOutput(nil) {
				f, bin := eio.AppendFrame(nil, pk)
				_ = e.HandleFrame(p.now, f, bin)
				moved = true
			}
		}
		if c.Closed() && !c.HasOutput() && !p.srvEnded && !p.silent {
			// The server closes its WebSocket once flushed.
			p.srvEnded = true
			e.HandleTransportClose(p.now, nil)
			moved = true
		}
	}
	if e.Closed() && !p.cliEnded && (e.Transport() == eio.WebSocket || !c.Closed()) {
		// The client ends its transport once flushed.
		if len(e.TakeOutputOn(e.Transport(), nil, 0)) == 0 {
			p.cliEnded = true
			if e.Transport() == eio.WebSocket {
				c.HandleTransportClose(p.now, nil)
				moved = true
			}
		}
	}
	return moved
}

// advance moves the clock by d, firing every timer of both sides on the
// way, and pumping after each.
func (p *pair) advance(d time.Duration) {
	p.t.Helper()
	end := p.now.Add(d)
	for range 100000 {
		next := end
		for _, f := range []func() (time.Time, bool){p.m.Deadline, p.srv.Deadline, p.connDeadline} {
			if t, ok := f(); ok && t.Before(next) {
				next = t
			}
		}
		if next.After(p.now) {
			p.now = next
		}
		p.m.HandleTimeout(p.now)
		if p.conn != nil {
			p.conn.HandleTimeout(p.now)
		}
		p.srv.HandleTimeout(p.now)
		p.pump()
		if !p.now.Before(end) {
			return
		}
	}
	p.t.Fatal("advance does not progress")
}

func (p *pair) connDeadline() (time.Time, bool) {
	if p.conn == nil {
		return time.Time{}, false
	}
	return p.conn.Deadline()
}

// join connects socket nsp with auth and returns it once the outcome is
// known.
func (p *pair) join(nsp string, auth any) (*Socket, error) {
	p.t.Helper()
	s := p.m.Socket(nsp)
	if err := s.SetAuth(auth); err != nil {
		p.t.Fatal(err)
	}
	var cerr error
	off := s.OnConnectError(func(err error) { cerr = err })
	defer off()
	if err := s.Connect(p.now); err != nil {
		p.t.Fatal(err)
	}
	p.pump()
	if cerr == nil && !s.Connected() {
		p.t.Fatalf("%s: no outcome", nsp)
	}
	return s, cerr
}

func (p *pair) mustJoin(nsp string, auth any) *Socket {
	p.t.Helper()
	s, err := p.join(nsp, auth)
	if err != nil {
		p.t.Fatalf("join %s: %v", nsp, err)
	}
	return s
}

func forTransports(t *testing.T, f func(t *testing.T, tr eio.Transport)) {
	for _, tr := range []eio.Transport{eio.Polling, eio.WebSocket} {
		t.Run(tr.String(), func(t *testing.T) { f(t, tr) })
	}
}

func TestPair_NamespacesWithAuth(t *testing.T) {
	forTransports(t, func(t *testing.T, tr eio.Transport) {
		p := newPair(t, tr, core.Config{}, Config{})
		var mainID, adminID string
		p.srv.Of("/").OnConnection(func(s *core.Socket) { mainID = s.ID() })
		admin := p.srv.Of("/admin")
		admin.Use(func(s *core.Socket) error {
			var auth struct {
				Token string `json:"token"`
			}
			if err := s.Handshake().Auth.Bind(&auth); err != nil || auth.Token != "secret" {
				return &core.ConnectError{Message: "not authorized", Data: map[string]any{"code": 42}}
			}
			return nil
		})
		admin.OnConnection(func(s *core.Socket) { adminID = s.ID() })

		s := p.mustJoin("/", nil)
		if s.ID() == "" || s.ID() != mainID {
			t.Fatalf("id %q, server %q", s.ID(), mainID)
		}
		_, err := p.join("/admin", map[string]string{"token": "wrong"})
		var ce *ConnectError
		if !errors.As(err, &ce) || ce.Message != "not authorized" {
			t.Fatalf("refusal: %v", err)
		}
		var data struct{ Code int }
		if err := ce.Data.Bind(&data); err != nil || data.Code != 42 {
			t.Fatalf("data %+v %v", data, err)
		}
		a := p.mustJoin("/admin", map[string]string{"token": "secret"})
		if a.ID() != adminID {
			t.Fatalf("admin id %q, server %q", a.ID(), adminID)
		}
		_, err = p.join("/nope", nil)
		if !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
			t.Fatalf("invalid namespace: %v", err)
		}
		if !s.Connected() || !a.Connected() {
			t.Fatal("a refusal disconnected others")
		}
	})
}

func TestPair_EmitAckBothWays(t *testing.T) {
	forTransports(t, func(t *testing.T, tr eio.Transport) {
		p := newPair(t, tr, core.Config{}, Config{})
		var server *core.Socket
		p.srv.Of("/").OnConnection(func(s *core.Socket) {
			server = s
			s.On("echo", func(e *core.Event) { _ = e.Ack(e.Args.Values()...) })
		})
		s := p.mustJoin("/", nil)
		var got Args
		type msg struct {
			A int      `json:"a"`
			B []string `json:"b"`
		}
		if err := s.EmitAck("echo", time.Time{}, func(a Args, err error) { got = a }, msg{1, []string{"x"}}, "two"); err != nil {
			t.Fatal(err)
		}
		p.pump()
		var m msg
		var two string
		if err := got.Bind(&m, &two); err != nil || m.A != 1 || m.B[0] != "x" || two != "two" {
			t.Fatalf("echo %v %+v %q", err, m, two)
		}
		// The server asks, the client answers.
		s.On("ask", func(e *Event) {
			var q string
			_ = e.Bind(&q)
			_ = e.Ack("re:" + q)
		})
		var answer string
		var ackErr error
		if err := server.EmitAck("ask", func(a core.Args, err error) { ackErr = err; _ = a.Bind(&answer) }, "q"); err != nil {
			t.Fatal(err)
		}
		p.pump()
		if ackErr != nil || answer != "re:q" {
			t.Fatalf("answer %q %v", answer, ackErr)
		}
		// Plain events both ways keep their order.
		var order []int
		server.On("n", func(e *core.Event) {
			var n int
			_ = e.Bind(&n)
			order = append(order, n)
		})
		var back []int
		s.On("n", func(e *Event) {
			var n int
			_ = e.Bind(&n)
			back = append(back, n)
		})
		for i := range 20 {
			_ = s.Emit("n", i)
			_ = server.Emit("n", i)
		}
		p.pump()
		if len(order) != 20 || !slices.IsSorted(order) || len(back) != 20 || !slices.IsSorted(back) {
			t.Fatalf("order %v back %v", order, back)
		}
	})
}

func TestPair_Binary(t *testing.T) {
	forTransports(t, func(t *testing.T, tr eio.Transport) {
		p := newPair(t, tr, core.Config{}, Config{})
		type file struct {
			Name string `json:"name"`
			Data []byte `json:"data"`
		}
		var server *core.Socket
		var up file
		p.srv.Of("/").OnConnection(func(s *core.Socket) {
			server = s
			s.On("upload", func(e *core.Event) {
				_ = e.Bind(&up)
				_ = e.Ack(up.Data, len(up.Data))
			})
		})
		s := p.mustJoin("/", nil)
		big := make([]byte, 3000)
		for i := range big {
			big[i] = byte(i)
		}
		var ackData []byte
		var n int
		_ = s.EmitAck("upload", time.Time{}, func(a Args, err error) { _ = a.Bind(&ackData, &n) }, file{"f", big})
		p.pump()
		if up.Name != "f" || !slices.Equal(up.Data, big) || !slices.Equal(ackData, big) || n != len(big) {
			t.Fatalf("upload %q %d, ack %d %d", up.Name, len(up.Data), len(ackData), n)
		}
		var down [][]byte
		s.On("down", func(e *Event) {
			var a, b []byte
			_ = e.Bind(&a, &b)
			down = append(down, a, b)
		})
		_ = server.Emit("down", []byte{1}, []byte{2, 3})
		p.pump()
		if len(down) != 2 || !slices.Equal(down[0], []byte{1}) || !slices.Equal(down[1], []byte{2, 3}) {
			t.Fatalf("down %v", down)
		}
	})
}

func TestPair_AckTimeouts(t *testing.T) {
	forTransports(t, func(t *testing.T, tr eio.Transport) {
		p := newPair(t, tr, core.Config{}, Config{})
		var server *core.Socket
		p.srv.Of("/").OnConnection(func(s *core.Socket) {
			server = s
			s.On("ignore", func(*core.Event) {})
		})
		s := p.mustJoin("/", nil)
		var cliErr, srvErr error
		_ = s.EmitAck("ignore", p.now.Add(2*sec), func(_ Args, err error) { cliErr = err })
		_ = server.Timeout(1500*ms).EmitAck("ignored", func(_ core.Args, err error) { srvErr = err })
		p.pump()
		p.advance(1499 * ms)
		if cliErr != nil || srvErr != nil {
			t.Fatal("expired early")
		}
		p.advance(ms)
		if !errors.Is(srvErr, core.ErrAckTimeout) || cliErr != nil {
			t.Fatalf("server %v client %v", srvErr, cliErr)
		}
		p.advance(500 * ms)
		if !errors.Is(cliErr, ErrAckTimeout) {
			t.Fatalf("client %v", cliErr)
		}
		if !s.Connected() {
			t.Fatal("the heartbeat failed meanwhile")
		}
	})
}

func TestPair_ServerDisconnects(t *testing.T) {
	type cse struct {
		name      string
		do        func(p *pair, s *core.Socket)
		want      string
		reconnect bool
	}
	cases := []cse{
		{"namespace disconnect", func(p *pair, s *core.Socket) { s.Disconnect(false) }, ReasonServerDisconnect, false},
		{"disconnect and close", func(p *pair, s *core.Socket) { s.Disconnect(true) }, ReasonServerDisconnect, false},
		{"conn close", func(p *pair, s *core.Socket) { s.Conn().Close(eio.ReasonForcedClose) }, ReasonTransportClose, true},
		{"server close", func(p *pair, s *core.Socket) { p.srv.Close() }, ReasonTransportClose, true},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			forTransports(t, func(t *testing.T, tr eio.Transport) {
				p := newPair(t, tr, core.Config{}, Config{})
				var server *core.Socket
				var srvReason string
				p.srv.Of("/").OnConnection(func(s *core.Socket) {
					server = s
					s.OnDisconnect(func(r string) { srvReason = r })
				})
				s := p.mustJoin("/", nil)
				var r reasons
				s.OnDisconnect(r.add)
				tt.do(p, server)
				p.m.HandleTimeout(p.now)
				p.conn.HandleTimeout(p.now)
				p.autoDial = false
				p.pump()
				if !slices.Equal(r.list, []string{tt.want}) {
					t.Fatalf("reasons %q, want %q (server %q)", r.list, tt.want, srvReason)
				}
				_, scheduled := p.m.Deadline()
				if scheduled != tt.reconnect {
					t.Fatalf("reconnection scheduled: %v", scheduled)
				}
			})
		})
	}
}

func TestPair_ClientDisconnect(t *testing.T) {
	forTransports(t, func(t *testing.T, tr eio.Transport) {
		p := newPair(t, tr, core.Config{}, Config{})
		var srvReasons []string
		p.srv.Of("/").OnConnection(func(s *core.Socket) {
			s.OnDisconnect(func(r string) { srvReasons = append(srvReasons, r) })
		})
		p.srv.Of("/a").OnConnection(func(s *core.Socket) {
			s.OnDisconnect(func(r string) { srvReasons = append(srvReasons, "a:"+r) })
		})
		s := p.mustJoin("/", nil)
		a := p.mustJoin("/a", nil)
		a.Disconnect()
		p.pump()
		s.Disconnect()
		p.pump()
		p.conn.HandleTimeout(p.now)
		want := []string{"a:client namespace disconnect", "client namespace disconnect"}
		if !slices.Equal(srvReasons, want) || !p.conn.Closed() || p.srv.ConnCount() != 0 {
			t.Fatalf("server reasons %q closed %v conns %d", srvReasons, p.conn.Closed(), p.srv.ConnCount())
		}
	})
}

func TestPair_Heartbeat(t *testing.T) {
	forTransports(t, func(t *testing.T, tr eio.Transport) {
		p := newPair(t, tr, core.Config{}, Config{})
		s := p.mustJoin("/", nil)
		var r reasons
		s.OnDisconnect(r.add)
		p.advance(30 * sec)
		if !s.Connected() || len(r.list) != 0 {
			t.Fatalf("lost the connection: %q", r.list)
		}
		// A silent server is dead after pingInterval + pingTimeout without
		// a ping.
		p.silent = true
		p.autoDial = false
		p.advance(1500 * ms)
		if !slices.Equal(r.list, []string{ReasonPingTimeout}) {
			t.Fatalf("reasons %q", r.list)
		}
	})
}

func TestPair_SilentClient(t *testing.T) {
	forTransports(t, func(t *testing.T, tr eio.Transport) {
		p := newPair(t, tr, core.Config{}, Config{})
		var srvReason string
		p.srv.Of("/").OnConnection(func(s *core.Socket) { s.OnDisconnect(func(r string) { srvReason = r }) })
		s := p.mustJoin("/", nil)
		var r reasons
		s.OnDisconnect(r.add)
		// The client's pongs never arrive.
		e := p.e
		p.autoDial = false
		p.now = p.now.Add(sec)
		p.conn.HandleTimeout(p.now)
		for _, pk := range p.conn.TakeOutput(nil) {
			f, bin := eio.AppendFrame(nil, pk)
			_ = e.HandleFrame(p.now, f, bin)
		}
		e.TakeOutputOn(e.Transport(), nil, 0) // the pong is lost
		p.now = p.now.Add(500 * ms)
		p.conn.HandleTimeout(p.now)
		if srvReason != "ping timeout" {
			t.Fatalf("server reason %q", srvReason)
		}
		p.pump()
		if !slices.Equal(r.list, []string{ReasonTransportClose}) {
			t.Fatalf("client reasons %q", r.list)
		}
	})
}

func TestPair_Reconnect(t *testing.T) {
	forTransports(t, func(t *testing.T, tr eio.Transport) {
		p := newPair(t, tr, core.Config{}, Config{})
		auths := 0
		p.srv.Of("/admin").Use(func(s *core.Socket) error {
			var a map[string]string
			_ = s.Handshake().Auth.Bind(&a)
			if a["token"] != "t" {
				return errors.New("no")
			}
			auths++
			return nil
		})
		s := p.mustJoin("/", nil)
		a := p.mustJoin("/admin", map[string]string{"token": "t"})
		var buffered Args
		reconnected := 0
		p.m.OnReconnect(func(int) { reconnected++ })
		p.conn.Close(eio.ReasonForcedClose)
		p.conn.HandleTimeout(p.now)
		p.pump()
		if s.Connected() || a.Connected() {
			t.Fatal("still connected")
		}
		p.srv.Of("/").OnConnection(func(s *core.Socket) {
			s.On("late", func(e *core.Event) { _ = e.Ack("got it") })
		})
		_ = s.EmitAck("late", time.Time{}, func(args Args, err error) { buffered = args })
		p.advance(2 * sec)
		if !s.Connected() || !a.Connected() || auths != 2 || reconnected != 1 {
			t.Fatalf("rejoined / %v /admin %v auths %d reconnects %d", s.Connected(), a.Connected(), auths, reconnected)
		}
		if len(buffered) != 1 || buffered[0].String() != `"got it"` {
			t.Fatalf("buffered emit: %v", buffered)
		}
	})
}

func TestPair_Upgrade(t *testing.T) {
	p := newPair(t, eio.Polling, core.Config{}, Config{})
	var server *core.Socket
	p.srv.Of("/").OnConnection(func(s *core.Socket) {
		server = s
		s.On("echo", func(e *core.Event) { _ = e.Ack(e.Args.Values()...) })
	})
	s := p.mustJoin("/", nil)
	e, c := p.e, p.conn
	if got := e.Handshake().Upgrades; !slices.Equal(got, []string{"websocket"}) {
		t.Fatalf("upgrades %v", got)
	}
	// The client opens its probe WebSocket.
	if err := e.StartProbe(p.now); err != nil {
		t.Fatal(err)
	}
	if err := c.StartProbe(p.now); err != nil {
		t.Fatal(err)
	}
	probeTo := func(dst func(time.Time, []byte, bool) error, pkts []eio.Packet) {
		for _, pk := range pkts {
			f, bin := eio.AppendFrame(nil, pk)
			if err := dst(p.now, f, bin); err != nil {
				t.Fatal(err)
			}
		}
	}
	probeTo(c.HandleProbeFrame, e.TakeProbeOutput(nil)) // 2probe
	// Meanwhile polling goes on: an emit during the upgrade is not lost.
	_ = server.Emit("during", 1)
	var during int
	s.On("during", func(ev *Event) { _ = ev.Bind(&during) })
	probeTo(e.HandleProbeFrame, c.TakeProbeOutput(nil)) // 3probe
	if !e.PollingPaused() {
		t.Fatal("polling not paused after the probe")
	}
	// The pending poll is released with the emit (or a noop).
	if out := c.TakeOutput(nil); len(out) > 0 {
		_ = e.HandlePayload(p.now, eio.AppendPayload(nil, out))
	}
	if during != 1 {
		t.Fatalf("emit during upgrade: %d", during)
	}
	_ = s.Emit("queued") // waits for the WebSocket
	if out := e.TakeOutputOn(eio.Polling, nil, 0); len(out) != 0 {
		t.Fatalf("polling output while paused: %v", out)
	}
	if err := e.CompleteUpgrade(p.now); err != nil {
		t.Fatal(err)
	}
	if e.Transport() != eio.WebSocket {
		t.Fatal("not upgraded")
	}
	out := e.TakeOutputOn(eio.WebSocket, nil, 0)
	if len(out) < 2 || out[0].Type != eio.Upgrade {
		t.Fatalf("first WebSocket packets %v", out)
	}
	probeTo(c.HandleProbeFrame, out)
	if c.Transport() != eio.WebSocket {
		t.Fatal("server not upgraded")
	}
	p.viaProbe = true
	var got string
	_ = s.EmitAck("echo", time.Time{}, func(a Args, err error) { _ = a.Bind(&got) }, "after")
	p.pump()
	if got != "after" {
		t.Fatalf("echo after upgrade %q", got)
	}
	p.advance(10 * sec)
	if !s.Connected() {
		t.Fatal("heartbeat failed after the upgrade")
	}
}

func TestPair_UpgradeTimeout(t *testing.T) {
	p := newPair(t, eio.Polling, core.Config{}, Config{Engine: eio.Config{UpgradeTimeout: sec}})
	s := p.mustJoin("/", nil)
	e := p.e
	if err := e.StartProbe(p.now); err != nil {
		t.Fatal(err)
	}
	e.TakeProbeOutput(nil) // the probe is never answered
	p.advance(sec)
	if e.Upgrading() || e.Transport() != eio.Polling || !s.Connected() {
		t.Fatal("probe not abandoned, or the session suffered")
	}
}

// A writer that found nothing to write, then sees the session closed, must
// still write what the close queued: TakeFinalOutputOn reports the end only
// on a take that found the session closed and nothing left.
func TestPair_TakeFinalOutputOn(t *testing.T) {
	forTransports(t, func(t *testing.T, tr eio.Transport) {
		p := newPair(t, tr, core.Config{}, Config{})
		s := p.mustJoin("/", nil)
		other := eio.Polling
		if tr == eio.Polling {
			other = eio.WebSocket
		}
		if out, done := p.e.TakeFinalOutputOn(tr, nil, 0); len(out) != 0 || done {
			t.Fatalf("open and flushed: out %v done %v", out, done)
		}
		// The last socket leaves between two takes of the writer.
		s.Disconnect()
		if !p.e.Closed() {
			t.Fatal("session open with no active socket")
		}
		if out, done := p.e.TakeFinalOutputOn(other, nil, 0); len(out) != 0 || !done {
			t.Fatalf("the other transport: out %v done %v", out, done)
		}
		out, done := p.e.TakeFinalOutputOn(tr, nil, 0)
		var got []string
		for _, pk := range out {
			f, _ := eio.AppendFrame(nil, pk)
			got = append(got, string(f))
		}
		want := []string{"41"} // the DISCONNECT, in an Engine.IO message
		if tr == eio.Polling {
			want = append(want, "1") // the close packet
		}
		if !slices.Equal(got, want) || done {
			t.Fatalf("after the close: out %q done %v, want %q and not done", got, done, want)
		}
		if out, done := p.e.TakeFinalOutputOn(tr, nil, 0); len(out) != 0 || !done {
			t.Fatalf("flushed: out %v done %v", out, done)
		}
	})
}
