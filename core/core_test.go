package core

import (
	"context"
	"encoding/hex"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/core/eio"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

type harness struct {
	t   *testing.T
	srv *Server
	clk *fakeClock
}

func newHarness(t *testing.T, cfg Config) *harness {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	cfg.Clock = clk.Now
	return &harness{t: t, srv: NewServer(cfg), clk: clk}
}

// client is one connection driven by hand over a WebSocket-like transport.
type client struct {
	h *harness
	c *Conn
}

func (h *harness) dial() *client {
	h.t.Helper()
	c, err := h.srv.NewConn(eio.WebSocket, Handshake{Header: MakeHeader(map[string][]string{"X-Test": {"1"}})}, h.clk.Now(), nil)
	if err != nil {
		h.t.Fatal(err)
	}
	cl := &client{h: h, c: c}
	if out := cl.out(); len(out) != 1 || !strings.HasPrefix(out[0], `0{"sid":"`) {
		h.t.Fatalf("open packet: %q", out)
	}
	return cl
}

// send delivers text frames from the client, "bin:HEX" for binary ones.
func (cl *client) send(frames ...string) {
	cl.h.t.Helper()
	for _, f := range frames {
		var err error
		if hx, ok := strings.CutPrefix(f, "bin:"); ok {
			b, _ := hex.DecodeString(hx)
			err = cl.c.HandleFrame(cl.h.clk.Now(), b, true)
		} else {
			err = cl.c.HandleFrame(cl.h.clk.Now(), []byte(f), false)
		}
		_ = err
	}
}

// out takes the frames the server queued: text as is, binary as "bin:HEX".
func (cl *client) out() []string {
	var res []string
	for _, p := range cl.c.TakeOutput(nil) {
		b, bin := eio.AppendFrame(nil, p)
		if bin {
			res = append(res, "bin:"+hex.EncodeToString(b))
		} else {
			res = append(res, string(b))
		}
	}
	return res
}

func (cl *client) connect(nsp string) string {
	cl.h.t.Helper()
	if nsp == "/" {
		cl.send("40")
	} else {
		cl.send("40" + nsp + ",")
	}
	out := cl.out()
	if len(out) == 0 || !strings.Contains(out[0], `{"sid":"`) {
		cl.h.t.Fatalf("connect %s: %q", nsp, out)
	}
	i := strings.Index(out[0], `"sid":"`) + 7
	return out[0][i : i+20]
}

func (h *harness) advance(d time.Duration, cls ...*client) {
	now := h.clk.Advance(d)
	for _, cl := range cls {
		cl.c.HandleTimeout(now)
	}
	h.srv.HandleTimeout(now)
}

func TestConnectAnswersWithSocketID(t *testing.T) {
	h := newHarness(t, Config{})
	var got *Socket
	h.srv.Of("/").OnConnection(func(s *Socket) { got = s })
	cl := h.dial()
	id := cl.connect("/")
	if got == nil || got.ID() != id || !got.Connected() {
		t.Fatalf("socket %v, answer id %q", got, id)
	}
	if got.Handshake().Header.Get("x-test") != "1" {
		t.Fatal("handshake header not carried")
	}
	if rooms := got.Rooms(); !slices.Equal(rooms, []string{id}) {
		t.Fatalf("rooms %v, want its own", rooms)
	}
}

func TestInvalidNamespaceKeepsSession(t *testing.T) {
	h := newHarness(t, Config{})
	cl := h.dial()
	cl.send("40/nope,")
	if out := cl.out(); !slices.Equal(out, []string{`44/nope,{"message":"Invalid namespace"}`}) {
		t.Fatalf("got %q", out)
	}
	if cl.c.Closed() {
		t.Fatal("session closed")
	}
	cl.connect("/")
}

func TestMiddlewareSeesAuthAndRefusesWithData(t *testing.T) {
	h := newHarness(t, Config{})
	var token string
	h.srv.Of("/admin").Use(func(s *Socket) error {
		var auth struct{ Token string }
		if err := s.Handshake().Auth.Bind(&auth); err != nil {
			return err
		}
		token = auth.Token
		if auth.Token != "good" {
			return &ConnectError{Message: "not authorized", Data: map[string]any{"a": 1}}
		}
		return nil
	})
	cl := h.dial()
	cl.send(`40/admin,{"token":"bad"}`)
	if out := cl.out(); !slices.Equal(out, []string{`44/admin,{"message":"not authorized","data":{"a":1}}`}) {
		t.Fatalf("got %q", out)
	}
	if token != "bad" {
		t.Fatalf("token %q", token)
	}
	cl.send(`40/admin,{"token":"good"}`)
	if out := cl.out(); len(out) != 1 || !strings.HasPrefix(out[0], `40/admin,{"sid":"`) {
		t.Fatalf("got %q", out)
	}
}

func TestEventAckPassesBytesThrough(t *testing.T) {
	h := newHarness(t, Config{})
	h.srv.Of("/").OnConnection(func(s *Socket) {
		s.On("echo", func(e *Event) { _ = e.Ack(e.Args.Values()...) })
	})
	cl := h.dial()
	cl.connect("/")
	cl.send(`4212["echo",1.0e2,{"b":1,"a":[true,null]},"é"]`)
	want := []string{`4312[1.0e2,{"b":1,"a":[true,null]},"é"]`}
	if out := cl.out(); !slices.Equal(out, want) {
		t.Fatalf("got %q, want %q", out, want)
	}
}

func TestBinaryEventBothWays(t *testing.T) {
	h := newHarness(t, Config{})
	type msg struct {
		Name string `json:"name"`
		Data []byte `json:"data"`
	}
	var got msg
	h.srv.Of("/").OnConnection(func(s *Socket) {
		s.On("up", func(e *Event) {
			if err := e.Bind(&got); err != nil {
				t.Error(err)
			}
			_ = s.Emit("down", msg{Name: "x", Data: []byte{9, 8}}, []byte{7})
		})
	})
	cl := h.dial()
	cl.connect("/")
	cl.send(`451-["up",{"name":"n","data":{"_placeholder":true,"num":0}}]`)
	if got.Name != "" {
		t.Fatal("event ran before its attachment")
	}
	cl.send("bin:0102")
	if got.Name != "n" || string(got.Data) != "\x01\x02" {
		t.Fatalf("got %+v", got)
	}
	want := []string{
		`452-["down",{"name":"x","data":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}]`,
		"bin:0908", "bin:07",
	}
	if out := cl.out(); !slices.Equal(out, want) {
		t.Fatalf("got %q, want %q", out, want)
	}
}

func TestServerAckAnswerTimeoutAndDisconnect(t *testing.T) {
	h := newHarness(t, Config{})
	var sock *Socket
	h.srv.Of("/").OnConnection(func(s *Socket) { sock = s })
	cl := h.dial()
	cl.connect("/")

	var answers []string
	record := func(args Args, err error) {
		if err != nil {
			answers = append(answers, err.Error())
			return
		}
		var s string
		_ = args.Bind(&s)
		answers = append(answers, "ok:"+s)
	}
	if err := sock.EmitAck("q", record, 1); err != nil {
		t.Fatal(err)
	}
	if err := sock.Timeout(time.Second).EmitAck("q", record, 2); err != nil {
		t.Fatal(err)
	}
	if err := sock.EmitAck("q", record, 3); err != nil {
		t.Fatal(err)
	}
	if out := cl.out(); !slices.Equal(out, []string{`420["q",1]`, `421["q",2]`, `422["q",3]`}) {
		t.Fatalf("got %q", out)
	}
	cl.send(`430["a"]`)
	h.advance(999*time.Millisecond, cl)
	if !slices.Equal(answers, []string{"ok:a"}) {
		t.Fatalf("before the deadline: %q", answers)
	}
	h.advance(time.Millisecond, cl)
	cl.send(`431["late"]`) // after its timeout: ignored
	if !slices.Equal(answers, []string{"ok:a", "operation has timed out"}) {
		t.Fatalf("at the deadline: %q", answers)
	}
	cl.send("41")
	if !slices.Equal(answers, []string{"ok:a", "operation has timed out", ErrDisconnected.Error()}) {
		t.Fatalf("after disconnect: %q", answers)
	}
}

func TestRoomsAndBroadcastOperators(t *testing.T) {
	h := newHarness(t, Config{})
	socks := map[string]*Socket{}
	h.srv.Of("/").OnConnection(func(s *Socket) { socks[s.ID()] = s })
	a, b, c := h.dial(), h.dial(), h.dial()
	ida, idb, idc := a.connect("/"), b.connect("/"), c.connect("/")
	socks[ida].Join("r")
	socks[idb].Join("r", "s")

	check := func(name string, want map[*client]bool) {
		t.Helper()
		for cl, should := range map[*client]bool{a: want[a], b: want[b], c: want[c]} {
			out := cl.out()
			if should != (len(out) == 1) {
				t.Fatalf("%s: client got %q, want delivery %v", name, out, should)
			}
		}
	}
	nsp := h.srv.Of("/")
	_ = nsp.Emit("all")
	check("all", map[*client]bool{a: true, b: true, c: true})
	_ = nsp.To("r").Emit("r")
	check("to r", map[*client]bool{a: true, b: true})
	_ = nsp.To("r").Except("s").Emit("r-s")
	check("to r except s", map[*client]bool{a: true})
	_ = nsp.To("r", "s").Emit("dedup")
	check("to r and s", map[*client]bool{a: true, b: true})
	_ = socks[ida].To("r").Emit("from a")
	check("socket to r", map[*client]bool{b: true})
	_ = socks[idc].Broadcast().Emit("from c")
	check("socket broadcast", map[*client]bool{a: true, b: true})
	_ = nsp.To(idc).Emit("private")
	check("to a socket id", map[*client]bool{c: true})

	nsp.In("r").SocketsJoin("t")
	if got := socks[idb].Rooms(); !slices.Contains(got, "t") {
		t.Fatalf("b rooms %v", got)
	}
	nsp.SocketsLeave("r")
	_ = nsp.To("r").Emit("nobody")
	check("after leave", nil)
	infos, err := nsp.In("t").FetchSockets(context.Background())
	if err != nil || len(infos) != 2 {
		t.Fatalf("fetch: %v %v", infos, err)
	}
	nsp.In("t").DisconnectSockets(false)
	if socks[ida].Connected() || socks[idb].Connected() || !socks[idc].Connected() {
		t.Fatal("DisconnectSockets reached the wrong sockets")
	}
	if out := a.out(); !slices.Equal(out, []string{"41"}) {
		t.Fatalf("a got %q", out)
	}
}

func TestBroadcastWithAck(t *testing.T) {
	h := newHarness(t, Config{})
	a, b := h.dial(), h.dial()
	a.connect("/")
	b.connect("/")
	var results []string
	done := func(r []Args, err error) {
		var vals []string
		for _, x := range r {
			var s string
			_ = x.Bind(&s)
			vals = append(vals, s)
		}
		results = append(results, strings.Join(vals, ",")+"|"+errString(err))
	}
	nsp := h.srv.Of("/")
	if err := nsp.Timeout(time.Second).EmitAck("q", done); err != nil {
		t.Fatal(err)
	}
	if oa, ob := a.out(), b.out(); !slices.Equal(oa, []string{`420["q"]`}) || !slices.Equal(ob, oa) {
		t.Fatalf("got %q %q", oa, ob)
	}
	a.send(`430["x"]`)
	b.send(`430["y"]`)
	if !slices.Equal(results, []string{"x,y|"}) {
		t.Fatalf("got %q", results)
	}
	// One answer missing: the timeout reports what came.
	_ = nsp.Timeout(time.Second).EmitAck("q", done)
	a.send(`431["z"]`)
	h.advance(time.Second, a, b)
	if !slices.Equal(results, []string{"x,y|", "z|operation has timed out"}) {
		t.Fatalf("got %q", results)
	}
	b.send(`431["late"]`)
	if len(results) != 2 {
		t.Fatalf("late answer reported: %q", results)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestDisconnectReasons(t *testing.T) {
	h := newHarness(t, Config{})
	var reasons []string
	var socks []*Socket
	h.srv.Of("/").OnConnection(func(s *Socket) {
		socks = append(socks, s)
		s.OnDisconnecting(func(r string) {
			if len(s.Rooms()) == 0 {
				t.Error("disconnecting ran after the rooms were left")
			}
		})
		s.OnDisconnect(func(r string) { reasons = append(reasons, r) })
	})
	a := h.dial()
	a.connect("/")
	a.send("41")
	b := h.dial()
	b.connect("/")
	socks[1].Disconnect(false)
	if out := b.out(); !slices.Equal(out, []string{"41"}) {
		t.Fatalf("b got %q", out)
	}
	c := h.dial()
	c.connect("/")
	socks[2].Disconnect(true)
	h.advance(0, c)
	if !c.c.Closed() {
		t.Fatal("Disconnect(true) left the connection open")
	}
	d := h.dial()
	d.connect("/")
	d.c.HandleTransportClose(h.clk.Now(), nil)
	e := h.dial()
	e.connect("/")
	h.advance(25*time.Second, e) // ping sent
	h.advance(20*time.Second, e) // no pong
	f := h.dial()
	f.connect("/")
	f.send(`4zzz`)
	want := []string{
		"client namespace disconnect",
		"server namespace disconnect",
		"server namespace disconnect",
		"transport close",
		"ping timeout",
		"forced close",
	}
	if !slices.Equal(reasons, want) {
		t.Fatalf("reasons %q, want %q", reasons, want)
	}
	if n := h.srv.Of("/").SocketCount(); n != 0 {
		t.Fatalf("%d sockets left", n)
	}
}

func TestConnectTimeout(t *testing.T) {
	h := newHarness(t, Config{ConnectTimeout: 5 * time.Second})
	cl := h.dial()
	h.advance(5*time.Second-1, cl)
	if cl.c.Closed() {
		t.Fatal("closed before the connect timeout")
	}
	h.advance(1, cl)
	if !cl.c.Closed() || cl.c.CloseReason() != eio.ReasonForcedClose {
		t.Fatalf("closed=%v reason=%v", cl.c.Closed(), cl.c.CloseReason())
	}
	if h.srv.ConnCount() != 0 {
		t.Fatal("connection not removed")
	}
}

func TestDynamicNamespaces(t *testing.T) {
	h := newHarness(t, Config{})
	parent := h.srv.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))
	var joined []string
	parent.OnConnection(func(s *Socket) { joined = append(joined, s.Namespace().Name()) })
	cl := h.dial()
	cl.connect("/dyn-1")
	cl.connect("/dyn-22")
	cl.send("40/dyn-x,")
	if out := cl.out(); !slices.Equal(out, []string{`44/dyn-x,{"message":"Invalid namespace"}`}) {
		t.Fatalf("got %q", out)
	}
	if !slices.Equal(joined, []string{"/dyn-1", "/dyn-22"}) {
		t.Fatalf("joined %q", joined)
	}
	_ = parent.Emit("hi")
	out := cl.out()
	slices.Sort(out)
	if !slices.Equal(out, []string{`42/dyn-1,["hi"]`, `42/dyn-22,["hi"]`}) {
		t.Fatalf("got %q", out)
	}
}

func TestOutOfStatePacketsCloseOnlyThatConnection(t *testing.T) {
	for _, frame := range []string{`42/other,["x"]`, `40`, `44{"message":"x"}`, `42["connect"]`, `4511-["a"]`} {
		h := newHarness(t, Config{})
		good, bad := h.dial(), h.dial()
		good.connect("/")
		bad.connect("/")
		bad.send(frame)
		h.advance(0, bad, good)
		if !bad.c.Closed() || bad.c.CloseReason() != eio.ReasonForcedClose {
			t.Fatalf("%s: closed=%v reason=%v", frame, bad.c.Closed(), bad.c.CloseReason())
		}
		if good.c.Closed() {
			t.Fatalf("%s: the other connection closed", frame)
		}
	}
}

func TestReservedNamesAndHandlers(t *testing.T) {
	h := newHarness(t, Config{})
	var sock *Socket
	var log []string
	h.srv.Of("/").OnConnection(func(s *Socket) {
		sock = s
		s.OnAny(func(e *Event) { log = append(log, "any:"+e.Name) })
		s.Once("once", func(e *Event) { log = append(log, "once") })
		off := s.On("on", func(e *Event) { log = append(log, "on") })
		s.On("off", func(e *Event) { off() })
	})
	cl := h.dial()
	cl.connect("/")
	cl.send(`42["once"]`, `42["once"]`, `42["on"]`, `42["off"]`, `42["on"]`, `42[7]`)
	want := []string{"any:once", "once", "any:once", "any:on", "on", "any:off", "any:on", "any:7"}
	if !slices.Equal(log, want) {
		t.Fatalf("log %q, want %q", log, want)
	}
	if err := sock.Emit("disconnect"); !errors.Is(err, ErrReservedEvent) {
		t.Fatalf("emit reserved: %v", err)
	}
}

func TestSlowConsumerClosesOnlyItself(t *testing.T) {
	h := newHarness(t, Config{Engine: eio.Config{MaxQueuedPackets: 10}})
	slow, fast := h.dial(), h.dial()
	slowID := slow.connect("/")
	fast.connect("/")
	var reason string
	h.srv.Of("/").Socket(slowID).OnDisconnect(func(r string) { reason = r })
	for i := 0; i < 10; i++ {
		_ = h.srv.Of("/").Volatile().Emit("v")
		fast.out()
	}
	if slow.c.Closed() {
		t.Fatal("volatile packets closed the slow consumer")
	}
	for i := 0; i < 11; i++ {
		_ = h.srv.Of("/").Emit("n")
		fast.out()
	}
	h.advance(0, slow, fast)
	if !slow.c.Closed() || reason != "transport error" {
		t.Fatalf("slow: closed=%v reason=%q", slow.c.Closed(), reason)
	}
	if fast.c.Closed() {
		t.Fatal("the fast client was closed")
	}
}

// Handlers of one socket, kept in one list: each event runs its own in the
// order they were added; a Once runs once among the others; Off removes
// one event's handlers only; a handler added while an event runs sees the
// next event, not this one; a removed one sees none.
func TestHandlerList(t *testing.T) {
	h := newHarness(t, Config{})
	var log []string
	h.srv.Of("/").OnConnection(func(s *Socket) {
		s.On("a", func(e *Event) { log = append(log, "a1") })
		s.On("b", func(e *Event) { log = append(log, "b1") })
		s.Once("a", func(e *Event) {
			log = append(log, "a-once")
			s.On("a", func(e *Event) { log = append(log, "a-late") })
		})
		off := s.On("a", func(e *Event) { log = append(log, "a3") })
		s.On("b", func(e *Event) { log = append(log, "b2") })
		s.On("drop-a3", func(e *Event) { off() })
		s.On("off-b", func(e *Event) { s.Off("b") })
	})
	cl := h.dial()
	cl.connect("/")
	cl.send(`42["a"]`, `42["b"]`, `42["a"]`, `42["drop-a3"]`, `42["a"]`, `42["off-b"]`, `42["b"]`, `42["a"]`)
	want := []string{
		"a1", "a-once", "a3", // the first a: the late handler is not run yet
		"b1", "b2",
		"a1", "a3", "a-late", // the once is gone, the late one runs last
		"a1", "a-late", // a3 removed
		"a1", "a-late", // b's handlers gone, a's kept
	}
	if !slices.Equal(log, want) {
		t.Fatalf("log %q,\nwant %q", log, want)
	}
}
