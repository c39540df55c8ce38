package client

import (
	"encoding/hex"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sio-go/sio/core/eio"
)

var t0 = time.Unix(1_700_000_000, 0)

const (
	ms  = time.Millisecond
	sec = time.Second
)

// harness drives a manager by hand with a virtual clock over WebSocket
// sessions: frames in, frames out, as the server would send them.
type harness struct {
	t     *testing.T
	now   time.Time
	m     *Manager
	e     *Engine
	rnd   float64
	wakes int
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, now: t0, rnd: 0}
	cfg.Transport = eio.WebSocket
	cfg.Wake = func() { h.wakes++ }
	cfg.Rand = func() float64 { return h.rnd }
	h.m = NewManager(cfg)
	return h
}

const openFrame = `0{"sid":"eio1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`

// dial takes the session the manager wants and opens it.
func (h *harness) dial() *Engine {
	h.t.Helper()
	e := h.m.TakeDial()
	if e == nil {
		h.t.Fatal("no session to dial")
	}
	if e.Transport() != eio.WebSocket {
		h.t.Fatalf("transport %v", e.Transport())
	}
	h.e = e
	return e
}

func (h *harness) open() *Engine {
	h.t.Helper()
	_ = h.m.Connect(h.now) // nothing when a session is already opening
	e := h.dial()
	h.recv(openFrame)
	if !e.Opened() {
		h.t.Fatal("not opened")
	}
	return e
}

// recv delivers frames from the server: text as is, "bin:HEX" for binary.
func (h *harness) recv(frames ...string) {
	h.t.Helper()
	for _, f := range frames {
		if hx, ok := strings.CutPrefix(f, "bin:"); ok {
			b, _ := hex.DecodeString(hx)
			_ = h.e.HandleFrame(h.now, b, true)
		} else {
			_ = h.e.HandleFrame(h.now, []byte(f), false)
		}
	}
}

// out takes what the client queued, as frames.
func (h *harness) out() []string {
	var res []string
	for _, p := range h.e.TakeOutputOn(eio.WebSocket, nil, 0) {
		b, bin := eio.AppendFrame(nil, p)
		if bin {
			res = append(res, "bin:"+hex.EncodeToString(b))
		} else {
			res = append(res, string(b))
		}
	}
	return res
}

func (h *harness) wantOut(want ...string) {
	h.t.Helper()
	if got := h.out(); !slices.Equal(got, want) {
		h.t.Fatalf("out:\n got  %q\n want %q", got, want)
	}
}

func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.m.HandleTimeout(h.now)
}

// connected makes socket nsp and connects it over an open session.
func (h *harness) connected(nsp string, auth any) *Socket {
	h.t.Helper()
	s := h.m.Socket(nsp)
	if auth != nil {
		if err := s.SetAuth(auth); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := s.Connect(h.now); err != nil {
		h.t.Fatal(err)
	}
	if h.e == nil || h.e.Closed() {
		h.open()
	}
	out := h.out()
	if len(out) != 1 || !strings.HasPrefix(out[0], "40") {
		h.t.Fatalf("connect %s: %q", nsp, out)
	}
	prefix := "40"
	if s.Namespace() != "/" {
		prefix += s.Namespace() + ","
	}
	h.recv(prefix + `{"sid":"id` + s.Namespace() + `"}`)
	if !s.Connected() {
		h.t.Fatalf("%s not connected", nsp)
	}
	return s
}

type reasons struct{ list []string }

func (r *reasons) add(s string) { r.list = append(r.list, s) }

func TestConnect_MainNamespace(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.m.Socket("")
	if s.Namespace() != "/" {
		t.Fatalf("namespace %q", s.Namespace())
	}
	n := 0
	s.OnConnect(func() { n++ })
	if err := s.Connect(h.now); err != nil {
		t.Fatal(err)
	}
	h.dial()
	h.wantOut() // nothing before the handshake
	h.recv(openFrame)
	h.wantOut("40")
	if s.Connected() || n != 0 {
		t.Fatal("connected before the answer")
	}
	h.recv(`40{"sid":"abc"}`)
	if !s.Connected() || s.ID() != "abc" || n != 1 {
		t.Fatalf("connected=%v id=%q n=%d", s.Connected(), s.ID(), n)
	}
	if !h.m.IsOpen() || h.m.Engine().SID() != "eio1" {
		t.Fatal("manager not open")
	}
	// A second Connect sends nothing.
	_ = s.Connect(h.now)
	h.wantOut()
}

func TestConnect_NamespaceWithAuth(t *testing.T) {
	h := newHarness(t, Config{})
	h.open()
	s := h.m.Socket("admin")
	if err := s.SetAuth(map[string]any{"token": "x"}); err != nil {
		t.Fatal(err)
	}
	_ = s.Connect(h.now)
	h.wantOut(`40/admin,{"token":"x"}`)
	h.recv(`40/admin,{"sid":"a1"}`)
	if !s.Connected() || s.ID() != "a1" {
		t.Fatal("not connected")
	}
	if h.m.Socket("/admin") != s {
		t.Fatal("Socket does not return the same socket")
	}
}

func TestSetAuth(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.m.Socket("/")
	for _, bad := range []any{5, "x", []int{1}} {
		if err := s.SetAuth(bad); !errors.Is(err, ErrBadAuth) {
			t.Errorf("SetAuth(%v) = %v", bad, err)
		}
	}
	if err := s.SetAuth(map[string]any{"f": func() {}}); err == nil {
		t.Error("unencodable auth accepted")
	}
	type auth struct {
		Token string `json:"token"`
	}
	for _, tt := range []struct {
		v    any
		want string
	}{
		{auth{"t"}, `{"token":"t"}`},
		{[]byte(nil), ``},
		{nil, ``},
	} {
		if err := s.SetAuth(tt.v); err != nil {
			t.Fatal(err)
		}
		if got := string(s.connectData()); got != tt.want {
			t.Errorf("auth %v: %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestConnectError_Refusal(t *testing.T) {
	h := newHarness(t, Config{})
	h.open()
	s := h.m.Socket("/admin")
	var got error
	s.OnConnectError(func(err error) { got = err })
	_ = s.Connect(h.now)
	h.wantOut("40/admin,")
	h.recv(`44/admin,{"message":"not authorized","data":{"a":1}}`)
	var ce *ConnectError
	if !errors.As(got, &ce) || ce.Message != "not authorized" {
		t.Fatalf("err %v", got)
	}
	var data map[string]int
	if err := ce.Data.Bind(&data); err != nil || data["a"] != 1 {
		t.Fatalf("data %v %v", data, err)
	}
	if s.Active() || s.Connected() {
		t.Fatal("refused socket still active")
	}
	// No socket is active any more: the session closes for good.
	if !h.e.Closed() {
		t.Fatal("session not closed")
	}
	h.advance(time.Minute)
	if e := h.m.TakeDial(); e != nil {
		t.Fatal("reconnected after the last socket left")
	}
	// Connecting again opens a new session.
	_ = s.SetAuth(map[string]string{"token": "ok"})
	_ = s.Connect(h.now)
	h.open()
	h.wantOut(`40/admin,{"token":"ok"}`)

	// A string payload and a payload without data.
	s2 := h.m.Socket("/b")
	s2.OnConnectError(func(err error) { got = err })
	_ = s2.Connect(h.now)
	h.out()
	h.recv(`44/b,"plain"`)
	if !errors.As(got, &ce) || ce.Message != "plain" || ce.Data.JSON != nil {
		t.Fatalf("err %#v", got)
	}
	s3 := h.m.Socket("/c")
	s3.OnConnectError(func(err error) { got = err })
	_ = s3.Connect(h.now)
	h.out()
	h.recv(`44/c,{"message":"Invalid namespace"}`)
	if !errors.As(got, &ce) || ce.Message != "Invalid namespace" || ce.Data.JSON != nil {
		t.Fatalf("err %#v", got)
	}
	if h.e.Closed() {
		t.Fatal("session closed while /admin is active")
	}
}

func TestEmit_BufferedUntilConnected(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.m.Socket("/")
	if err := s.Emit("a", 1); err != nil {
		t.Fatal(err)
	}
	var answer Args
	if err := s.EmitAck("b", time.Time{}, func(a Args, err error) { answer = a }); err != nil {
		t.Fatal(err)
	}
	if err := emitWith(s, EmitOptions{Volatile: true}, "v"); !errors.Is(err, ErrDropped) {
		t.Fatalf("volatile while disconnected: %v", err)
	}
	_ = s.Connect(h.now)
	h.open()
	h.wantOut("40")
	connectSeen := false
	s.OnConnect(func() {
		connectSeen = true
	})
	h.recv(`40{"sid":"x"}`)
	if !connectSeen {
		t.Fatal("no connect")
	}
	h.wantOut(`42["a",1]`, `420["b"]`)
	h.recv(`430["ok"]`)
	if len(answer) != 1 || answer[0].String() != `"ok"` {
		t.Fatalf("answer %v", answer)
	}
}

func emitWith(s *Socket, o EmitOptions, event string, args ...any) error {
	_, err := s.EmitWith(o, event, args...)
	return err
}

func TestEmit_Limits(t *testing.T) {
	h := newHarness(t, Config{MaxBufferedPackets: 2})
	s := h.m.Socket("/")
	if err := s.Emit("connect"); !errors.Is(err, ErrReservedEvent) {
		t.Fatalf("reserved: %v", err)
	}
	_ = s.Emit("a")
	_ = s.Emit("b")
	if err := s.Emit("c"); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("third buffered emit: %v", err)
	}
	if err := s.Emit("x", make(chan int)); err == nil {
		t.Fatal("unencodable argument accepted")
	}
}

func TestAck_ClientEmit(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.connected("/", nil)
	type result struct {
		args Args
		err  error
	}
	var got []result
	ack := func(a Args, err error) { got = append(got, result{a, err}) }
	if err := s.EmitAck("q", h.now.Add(sec), ack, "x"); err != nil {
		t.Fatal(err)
	}
	h.wantOut(`420["q","x"]`)
	if d, ok := h.m.Deadline(); !ok || !d.Equal(h.now.Add(sec)) {
		t.Fatalf("deadline %v %v", d, ok)
	}
	h.recv(`430["r",2]`)
	var r string
	var n int
	if len(got) != 1 || got[0].err != nil || got[0].args.Bind(&r, &n) != nil || r != "r" || n != 2 {
		t.Fatalf("ack %+v", got)
	}
	// A timeout, then the late answer is ignored.
	got = nil
	_ = s.EmitAck("q", h.now.Add(sec), ack)
	h.wantOut(`421["q"]`)
	h.advance(999 * ms)
	if len(got) != 0 {
		t.Fatal("expired early")
	}
	h.advance(ms)
	if len(got) != 1 || !errors.Is(got[0].err, ErrAckTimeout) {
		t.Fatalf("timeout %+v", got)
	}
	h.recv(`431[]`)
	if len(got) != 1 {
		t.Fatal("late answer delivered")
	}
	// Unknown ids and acks without id are ignored.
	h.recv(`4399["x"]`, `43[]`)
	if h.e.Closed() {
		t.Fatal("closed on unknown ack")
	}
	// CancelAck forgets it.
	id, _ := s.EmitWith(EmitOptions{Ack: ack}, "q")
	if !s.CancelAck(id) || s.PendingAcks() != 0 {
		t.Fatal("cancel")
	}
	h.recv(`432[]`)
	if len(got) != 1 {
		t.Fatal("cancelled ack called")
	}
}

func TestAck_ServerAsks(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.connected("/", nil)
	admin := h.connected("/admin", nil)
	s.On("ask", func(e *Event) {
		if !e.WantsAck() {
			t.Error("no ack wanted")
		}
		vals := append([]any{"answer"}, e.Args.Values()...)
		_ = e.Ack(vals...)
		_ = e.Ack("twice")
	})
	admin.On("ask", func(e *Event) { _ = e.Ack() })
	h.recv(`425["ask","q",{"k":[1,2]}]`)
	h.wantOut(`435["answer","q",{"k":[1,2]}]`)
	h.recv(`42/admin,7["ask"]`)
	h.wantOut(`43/admin,7[]`)
	// Without an id there is nothing to answer.
	s.On("tell", func(e *Event) {
		if e.WantsAck() || e.Ack(1) != nil {
			t.Error("ack without id")
		}
	})
	h.recv(`42["tell"]`)
	h.wantOut()
}

func TestBinary_BothWays(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.connected("/", nil)
	if err := s.Emit("up", map[string]any{"b": []byte{1, 2}}, []byte{3}); err != nil {
		t.Fatal(err)
	}
	h.wantOut(`452-["up",{"b":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}]`, "bin:0102", "bin:03")
	var got []byte
	var meta struct {
		B []byte `json:"b"`
	}
	s.On("down", func(e *Event) {
		if err := e.Bind(&got, &meta); err != nil {
			t.Error(err)
		}
	})
	h.recv(`452-["down",{"_placeholder":true,"num":0},{"b":{"_placeholder":true,"num":1}}]`)
	if got != nil {
		t.Fatal("delivered before its attachments")
	}
	h.recv("bin:0a0b", "bin:ff")
	if !slices.Equal(got, []byte{10, 11}) || !slices.Equal(meta.B, []byte{0xff}) {
		t.Fatalf("got %v %v", got, meta.B)
	}
	// A binary ack both ways.
	var ackBytes []byte
	_ = s.EmitAck("q", time.Time{}, func(a Args, err error) { _ = a.Bind(&ackBytes) })
	h.wantOut(`420["q"]`)
	h.recv(`461-0[{"_placeholder":true,"num":0}]`, "bin:0908")
	if !slices.Equal(ackBytes, []byte{9, 8}) {
		t.Fatalf("ack bytes %v", ackBytes)
	}
	s.On("ask", func(e *Event) { _ = e.Ack([]byte{7}) })
	h.recv(`423["ask"]`)
	h.wantOut(`461-3[{"_placeholder":true,"num":0}]`, "bin:07")
}

func TestBinary_Limits(t *testing.T) {
	h := newHarness(t, Config{})
	h.connected("/", nil)
	h.recv(`4511-["x"]`) // over the default 10 attachments
	if !h.e.Closed() {
		t.Fatal("too many attachments accepted")
	}
}

func TestHandlers_OnOnceOnAnyOff(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.connected("/", nil)
	var log []string
	offOn := s.On("x", func(e *Event) { log = append(log, "on") })
	s.Once("x", func(e *Event) { log = append(log, "once") })
	offAny := s.OnAny(func(e *Event) { log = append(log, "any:"+e.Name) })
	h.recv(`42["x"]`, `42["x"]`, `42[7]`)
	want := []string{"any:x", "on", "once", "any:x", "on", "any:7"}
	if !slices.Equal(log, want) {
		t.Fatalf("log %q, want %q", log, want)
	}
	log = nil
	offOn()
	offAny()
	h.recv(`42["x"]`)
	if len(log) != 0 {
		t.Fatalf("removed handlers ran: %q", log)
	}
	s.On("y", func(e *Event) { log = append(log, "y") })
	s.On("y", func(e *Event) { log = append(log, "y") })
	s.Off("y")
	h.recv(`42["y"]`)
	if len(log) != 0 {
		t.Fatal("Off left handlers")
	}
	// A handler may emit and register handlers: no lock is held.
	s.On("z", func(e *Event) {
		_ = s.Emit("fromHandler")
		s.On("w", func(*Event) {})
	})
	h.recv(`42["z"]`)
	h.wantOut(`42["fromHandler"]`)
}

func TestUnknownNamespaceIgnored(t *testing.T) {
	h := newHarness(t, Config{})
	h.connected("/", nil)
	h.recv(`42/other,["x"]`, `40/other,{"sid":"y"}`)
	if h.e.Closed() {
		t.Fatal("closed")
	}
}

func TestDisconnect_Server(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.connected("/", nil)
	var r reasons
	s.OnDisconnect(r.add)
	var ackErr error
	_ = s.EmitAck("q", time.Time{}, func(_ Args, err error) { ackErr = err })
	h.out()
	h.recv("41")
	if !slices.Equal(r.list, []string{ReasonServerDisconnect}) || !errors.Is(ackErr, ErrDisconnected) {
		t.Fatalf("reasons %q ack %v", r.list, ackErr)
	}
	if s.Active() || !h.e.Closed() {
		t.Fatal("still active or session open")
	}
	// No reconnection after a server disconnect.
	h.advance(time.Minute)
	if h.m.TakeDial() != nil {
		t.Fatal("reconnected")
	}
}

func TestDisconnect_Client(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.connected("/", nil)
	admin := h.connected("/admin", nil)
	var r reasons
	admin.OnDisconnect(r.add)
	admin.Disconnect()
	h.wantOut("41/admin,")
	if !slices.Equal(r.list, []string{ReasonClientDisconnect}) || admin.Active() {
		t.Fatalf("reasons %q", r.list)
	}
	if h.e.Closed() {
		t.Fatal("closed while / is active")
	}
	s.Disconnect()
	h.wantOut("41")
	if !h.e.Closed() {
		t.Fatal("session open with no active socket")
	}
	admin.Disconnect() // again: nothing
}

func TestDisconnect_EngineReasons(t *testing.T) {
	for _, tt := range []struct {
		name string
		do   func(h *harness)
		want string
	}{
		{"close packet", func(h *harness) { h.recv("1") }, ReasonTransportClose},
		{"transport closed", func(h *harness) { h.e.HandleTransportClose(h.now, nil) }, ReasonTransportClose},
		{"transport failed", func(h *harness) { h.e.HandleTransportClose(h.now, errors.New("reset")) }, ReasonTransportError},
		{"ping timeout", func(h *harness) { h.advance(45 * sec) }, ReasonPingTimeout},
		{"bad engine packet", func(h *harness) { h.recv("9") }, ReasonParseError},
		{"bad socket packet", func(h *harness) { h.recv("4zzz") }, ReasonParseError},
		{"bad event payload", func(h *harness) { h.recv(`42{}`) }, ReasonParseError},
		{"binary without packet", func(h *harness) { h.recv("bin:00") }, ReasonParseError},
		{"forced close", func(h *harness) { h.e.Close(h.now) }, ReasonForcedClose},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			s := h.connected("/", nil)
			var r, mr reasons
			s.OnDisconnect(r.add)
			h.m.OnClose(func(reason string, _ error) { mr.add(reason) })
			tt.do(h)
			if !slices.Equal(r.list, []string{tt.want}) || !slices.Equal(mr.list, []string{tt.want}) {
				t.Fatalf("reasons %q %q, want %q", r.list, mr.list, tt.want)
			}
			if !s.Active() || s.Connected() {
				t.Fatal("socket should stay active, disconnected")
			}
			if _, ok := h.m.Deadline(); !ok {
				t.Fatal("no reconnection scheduled")
			}
		})
	}
}

func TestPingTimeout_Exact(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.m.Socket("/")
	_ = s.Connect(h.now)
	h.dial()
	h.recv(`0{"sid":"x","upgrades":[],"pingInterval":1000,"pingTimeout":500,"maxPayload":100}`)
	h.recv(`40{"sid":"a"}`)
	h.out()
	for range 5 {
		h.advance(900 * ms)
		h.recv("2")
		h.wantOut("3")
	}
	h.advance(1499 * ms)
	if !s.Connected() {
		t.Fatal("timed out early")
	}
	var r reasons
	s.OnDisconnect(r.add)
	h.advance(ms)
	if !slices.Equal(r.list, []string{ReasonPingTimeout}) {
		t.Fatalf("reasons %q", r.list)
	}
}

func TestReconnect_RejoinsWithBackoff(t *testing.T) {
	h := newHarness(t, Config{})
	h.rnd = 0.5
	s := h.connected("/", nil)
	admin := h.connected("/admin", map[string]string{"token": "x"})
	var attempts, reconnects []int
	h.m.OnReconnectAttempt(func(n int) { attempts = append(attempts, n) })
	h.m.OnReconnect(func(n int) { reconnects = append(reconnects, n) })
	var sentErr error
	_ = s.EmitAck("sent", time.Time{}, func(_ Args, err error) { sentErr = err })
	h.out()
	h.e.HandleTransportClose(h.now, nil)
	if !errors.Is(sentErr, ErrDisconnected) {
		t.Fatalf("sent ack: %v", sentErr)
	}
	var bufAnswer Args
	_ = s.EmitAck("buffered", time.Time{}, func(a Args, err error) { bufAnswer = a })
	// rnd 0.5: floor(5) is odd, so 1s + floor(0.5*0.5*1s).
	d, ok := h.m.Deadline()
	if !ok || d.Sub(h.now) != 1250*ms {
		t.Fatalf("delay %v", d.Sub(h.now))
	}
	h.advance(1249 * ms)
	if h.m.TakeDial() != nil {
		t.Fatal("dialed early")
	}
	h.advance(ms)
	if !slices.Equal(attempts, []int{1}) {
		t.Fatalf("attempts %v", attempts)
	}
	h.dial()
	h.recv(openFrame)
	h.wantOut("40", `40/admin,{"token":"x"}`)
	if !slices.Equal(reconnects, []int{1}) {
		t.Fatalf("reconnects %v", reconnects)
	}
	h.recv(`40{"sid":"s2"}`, `40/admin,{"sid":"a2"}`)
	if s.ID() != "s2" || admin.ID() != "a2" {
		t.Fatal("not rejoined")
	}
	h.wantOut(`421["buffered"]`)
	h.recv(`431[1]`)
	if len(bufAnswer) != 1 {
		t.Fatal("buffered ack lost")
	}
}

func TestReconnect_FailuresAndGivingUp(t *testing.T) {
	h := newHarness(t, Config{ReconnectionAttempts: 2, RandomizationFactor: -1})
	s := h.m.Socket("/")
	var connErrs []error
	s.OnConnectError(func(err error) { connErrs = append(connErrs, err) })
	var mgrErrs []error
	h.m.OnError(func(err error) { mgrErrs = append(mgrErrs, err) })
	failed := 0
	h.m.OnReconnectFailed(func() { failed++ })
	_ = s.Connect(h.now)
	refused := errors.New("connection refused")
	h.dial().HandleTransportClose(h.now, refused)
	var cf *ConnectFailure
	if len(connErrs) != 1 || !errors.As(connErrs[0], &cf) || !errors.Is(cf, refused) || cf.Reason != ReasonTransportError {
		t.Fatalf("connect errors %v", connErrs)
	}
	for i, delay := range []time.Duration{sec, 2 * sec} {
		d, ok := h.m.Deadline()
		if !ok || d.Sub(h.now) != delay {
			t.Fatalf("attempt %d: delay %v, want %v", i+1, d.Sub(h.now), delay)
		}
		h.advance(delay)
		h.dial().HandleTransportClose(h.now, refused)
	}
	if failed != 1 || len(mgrErrs) != 3 || len(connErrs) != 3 {
		t.Fatalf("failed=%d errors=%d/%d", failed, len(mgrErrs), len(connErrs))
	}
	if _, ok := h.m.Deadline(); ok {
		t.Fatal("still scheduled after giving up")
	}
	// Connect starts over.
	_ = h.m.Connect(h.now)
	h.open()
	h.wantOut("40")
}

func TestReconnect_Disabled(t *testing.T) {
	h := newHarness(t, Config{NoReconnection: true})
	s := h.connected("/", nil)
	h.recv("1")
	if s.Connected() {
		t.Fatal("still connected")
	}
	if _, ok := h.m.Deadline(); ok {
		t.Fatal("reconnection scheduled")
	}
	// The socket is still active: Connect reopens.
	_ = s.Connect(h.now)
	h.open()
	h.wantOut("40")
}

func TestConnectTimeout(t *testing.T) {
	h := newHarness(t, Config{Timeout: 5 * sec, NoReconnection: true})
	s := h.m.Socket("/")
	var got error
	s.OnConnectError(func(err error) { got = err })
	_ = s.Connect(h.now)
	e := h.dial()
	h.advance(5*sec - ms)
	if got != nil || e.Closed() {
		t.Fatal("timed out early")
	}
	h.advance(ms)
	if !errors.Is(got, ErrTimeout) || !e.Closed() {
		t.Fatalf("err %v closed %v", got, e.Closed())
	}
}

func TestAck_BufferedTimeoutDropsEvent(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.m.Socket("/")
	var got error
	_ = s.EmitAck("late", h.now.Add(sec), func(_ Args, err error) { got = err })
	_ = s.Emit("kept")
	h.advance(sec)
	if !errors.Is(got, ErrAckTimeout) {
		t.Fatalf("err %v", got)
	}
	_ = s.Connect(h.now)
	h.open()
	h.wantOut("40")
	h.recv(`40{"sid":"a"}`)
	h.wantOut(`42["kept"]`)
}

func TestRecvBuffer(t *testing.T) {
	h := newHarness(t, Config{MaxBufferedEvents: 2})
	s := h.m.Socket("/")
	var log []string
	s.On("e", func(e *Event) { log = append(log, "e"+e.Args[0].String()) })
	s.OnConnect(func() { log = append(log, "connect") })
	_ = s.Connect(h.now)
	h.open()
	h.out()
	h.recv(`42["e",1]`, `42["e",2]`, `40{"sid":"a"}`)
	if !slices.Equal(log, []string{"e1", "e2", "connect"}) {
		t.Fatalf("log %q", log)
	}
	h.recv("1")
	h.advance(10 * sec)
	h.open()
	h.out()
	h.recv(`42["e",1]`, `42["e",2]`, `42["e",3]`)
	if !h.e.Closed() || h.e.Handshake().SID != "eio1" {
		t.Fatal("receive buffer not bounded")
	}
}

func TestRecovery_PidAndOffset(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.m.Socket("/")
	_ = s.SetAuth(map[string]string{"token": "t"})
	_ = s.Connect(h.now)
	h.open()
	h.wantOut(`40{"token":"t"}`)
	h.recv(`40{"sid":"s1","pid":"p1"}`)
	var args []string
	s.On("e", func(e *Event) { args = append(args, e.Args[len(e.Args)-1].String()) })
	h.recv(`42["e",1,"off1"]`, `42["e",2,"off2"]`)
	h.recv("1")
	h.advance(10 * sec)
	h.open()
	h.wantOut(`40{"pid":"p1","offset":"off2","token":"t"}`)
	// Missed events come before the answer and are handled first.
	h.recv(`42["e",3,"off3"]`, `40{"sid":"s1","pid":"p1"}`)
	if !s.Recovered() || !slices.Equal(args, []string{`"off1"`, `"off2"`, `"off3"`}) {
		t.Fatalf("recovered %v args %q", s.Recovered(), args)
	}
	// A client disconnect forgets the session.
	s.Disconnect()
	_ = s.Connect(h.now)
	h.open()
	h.wantOut(`40{"token":"t"}`)
}

func TestDisconnect_WhileConnecting(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.m.Socket("/")
	var errs []error
	s.OnConnectError(func(err error) { errs = append(errs, err) })
	_ = s.Connect(h.now)
	s.Disconnect()
	if len(errs) != 1 || !errors.Is(errs[0], ErrDisconnected) || s.Active() {
		t.Fatalf("errs %v", errs)
	}
	s.Disconnect()
	if len(errs) != 1 {
		t.Fatal("a second Disconnect reported again")
	}
	_ = s.Connect(h.now)
	h.m.Close(h.now)
	if len(errs) != 2 || !errors.Is(errs[1], ErrDisconnected) {
		t.Fatalf("errs %v", errs)
	}
}

func TestClose(t *testing.T) {
	h := newHarness(t, Config{})
	s := h.connected("/", nil)
	other := h.m.Socket("/other")
	var errs []error
	ack := func(_ Args, err error) { errs = append(errs, err) }
	_ = s.EmitAck("sent", time.Time{}, ack)
	_ = other.EmitAck("buffered", time.Time{}, ack)
	h.out()
	var r reasons
	s.OnDisconnect(r.add)
	h.m.Close(h.now)
	h.wantOut("41")
	if !h.e.Closed() || !slices.Equal(r.list, []string{ReasonClientDisconnect}) {
		t.Fatalf("closed %v reasons %q", h.e.Closed(), r.list)
	}
	if len(errs) != 2 || !errors.Is(errs[0], ErrDisconnected) || !errors.Is(errs[1], ErrClosed) {
		t.Fatalf("acks %v", errs)
	}
	if err := s.Emit("x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("emit after close: %v", err)
	}
	if err := s.Connect(h.now); !errors.Is(err, ErrClosed) {
		t.Fatalf("connect after close: %v", err)
	}
	h.advance(time.Minute)
	if h.m.TakeDial() != nil || !h.m.Closed() {
		t.Fatal("reconnected after Close")
	}
	h.m.Close(h.now) // again: nothing
}

func TestSlowConsumer(t *testing.T) {
	h := newHarness(t, Config{Engine: eio.Config{MaxQueuedPackets: 3}})
	s := h.connected("/", nil)
	var r reasons
	s.OnDisconnect(r.add)
	for range 3 {
		_ = s.Emit("x")
	}
	if err := emitWith(s, EmitOptions{Volatile: true}, "v"); !errors.Is(err, ErrDropped) {
		t.Fatalf("volatile over the queue: %v", err)
	}
	if err := s.Emit("y"); err == nil {
		t.Fatal("emit over the queue accepted")
	}
	h.advance(0) // the driver handles the close the emit caused
	if !slices.Equal(r.list, []string{ReasonTransportError}) {
		t.Fatalf("reasons %q", r.list)
	}
}

func TestDeadline_Combines(t *testing.T) {
	h := newHarness(t, Config{Timeout: 3 * sec})
	if _, ok := h.m.Deadline(); ok {
		t.Fatal("deadline while idle")
	}
	s := h.m.Socket("/")
	_ = s.Connect(h.now)
	h.dial()
	d, _ := h.m.Deadline()
	if d.Sub(h.now) != 3*sec {
		t.Fatalf("opening deadline %v", d.Sub(h.now))
	}
	_ = s.EmitAck("x", h.now.Add(sec), func(Args, error) {})
	d, _ = h.m.Deadline()
	if d.Sub(h.now) != sec {
		t.Fatalf("ack deadline %v", d.Sub(h.now))
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: sec, Max: 5 * sec, Factor: 2, Jitter: 0.5}
	for _, tt := range []struct {
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{0, 0, sec},            // floor(0) even: minus 0
		{0, 0.5, 1250 * ms},    // floor(5) odd: plus 250
		{0, 0.15, 1075 * ms},   // floor(1.5)=1 odd: plus 75
		{0, 0.25, 875 * ms},    // floor(2.5)=2 even: minus 125
		{1, 0.25, 1750 * ms},   // 2s minus 250
		{2, 0.99, 5 * sec},     // 4s plus 1.98s, capped
		{3, 0.0, 5 * sec},      // 8s capped
		{5000, 0.35, 5 * sec},  // no overflow
		{100000, 0.0, 5 * sec}, // no NaN
		{2, 0.05, 3900 * ms},   // floor(0.5)=0 even: 4s minus 100
		{1, 0.75, 2750 * ms},   // floor(7.5)=7 odd: 2s plus 750
	} {
		got := b.Delay(tt.attempt, tt.rnd)
		if got != tt.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", tt.attempt, tt.rnd, got, tt.want)
		}
	}
	nj := Backoff{Min: sec, Max: 5 * sec, Factor: 2}
	var got []time.Duration
	for i := range 5 {
		got = append(got, nj.Delay(i, 0.7))
	}
	if !reflect.DeepEqual(got, []time.Duration{sec, 2 * sec, 4 * sec, 5 * sec, 5 * sec}) {
		t.Errorf("no jitter: %v", got)
	}
	// Every delay lies within the jitter band around its base.
	for attempt := range 4 {
		base := float64(sec) * float64(int(1)<<attempt)
		for i := range 1000 {
			rnd := float64(i) / 1000
			d := float64(b.Delay(attempt, rnd))
			if d < base*0.5-1 || d > min(base*1.5, float64(5*sec)) {
				t.Fatalf("Delay(%d, %v) = %v out of band", attempt, rnd, time.Duration(d))
			}
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.WithDefaults()
	if c.Timeout != 20*sec || c.ReconnectionDelay != sec || c.ReconnectionDelayMax != 5*sec ||
		c.RandomizationFactor != 0.5 || c.ReconnectionAttempts != 0 || c.Transport != eio.Polling {
		t.Fatalf("defaults %+v", c)
	}
	if c := (Config{RandomizationFactor: -1}).WithDefaults(); c.RandomizationFactor != 0 {
		t.Fatal("negative jitter")
	}
}
