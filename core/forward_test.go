package core

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// A gateway server whose /chat is forwarded to a backend server's remote
// connections, wired directly (package cluster/distributor puts Redis in
// between): what the client sees must be what a local /chat would show.
type forwardRig struct {
	t       *testing.T
	gw      *harness
	backend *Server

	mu      sync.Mutex
	remote  map[*Conn]*RemoteConn // gateway conn -> its remote conn
	routes  map[*Conn]*rigRoute   // gateway conn -> its latest route
	closed  []string              // reasons given to Route.Close
	empties int
	refuse  error // Open's answer when set
}

func newForwardRig(t *testing.T) *forwardRig {
	r := &forwardRig{t: t, gw: newHarness(t, Config{}), remote: map[*Conn]*RemoteConn{}, routes: map[*Conn]*rigRoute{}}
	// Turns run at once on the delivering goroutine: these handlers do not
	// block.
	r.backend = NewServer(Config{Go: func(fn func()) { fn() }, Clock: r.gw.clk.Now})
	r.gw.srv.SetForwarder(r)
	return r
}

func (r *forwardRig) Open(c *Conn, p *sio.Packet) (Route, error) {
	if p.Namespace != "/chat" {
		return nil, nil
	}
	if r.refuse != nil {
		return nil, r.refuse
	}
	r.mu.Lock()
	rc := r.remote[c]
	r.mu.Unlock()
	rt := &rigRoute{r: r, gw: c}
	r.mu.Lock()
	r.routes[c] = rt
	r.mu.Unlock()
	if rc == nil {
		var err error
		rc, err = r.backend.NewRemoteConn(c.SID(), c.Transport(), *c.Handshake(), &rigLink{r: r, gw: c}, nil)
		if err != nil {
			r.t.Fatal(err)
		}
		r.mu.Lock()
		r.remote[c] = rc
		r.mu.Unlock()
	}
	rt.rc = rc
	return rt, nil
}

type rigRoute struct {
	r  *forwardRig
	gw *Conn
	rc *RemoteConn
}

func (rt *rigRoute) Packet(p *sio.Packet) {
	q := *p
	q.Data = slices.Clone(p.Data) // p is only valid during the call
	rt.rc.HandlePacket(rt.r.gw.clk.Now(), &q)
}

func (rt *rigRoute) Close(reason string) {
	rt.r.mu.Lock()
	rt.r.closed = append(rt.r.closed, reason)
	rt.r.mu.Unlock()
	rt.rc.HandleClose(eio.ReasonTransportClose)
}

// rigLink sends to the connection's latest route, as the distributor's
// backend does by namespace.
type rigLink struct {
	r  *forwardRig
	gw *Conn
}

func (l *rigLink) Send(frames []eio.Packet, volatile bool) error {
	l.r.mu.Lock()
	rt := l.r.routes[l.gw]
	l.r.mu.Unlock()
	return l.gw.Forwarded("/chat", rt, frames, volatile)
}

func (l *rigLink) Close(r eio.Reason) { l.gw.Close(r) }

func (l *rigLink) Empty() {
	l.r.mu.Lock()
	l.r.empties++
	l.r.mu.Unlock()
}

func TestForwardedNamespace(t *testing.T) {
	r := newForwardRig(t)
	var gone []string
	nsp := r.backend.Of("/chat")
	nsp.Use(func(s *Socket) error {
		var auth struct{ Token string }
		_ = s.Handshake().Auth.Bind(&auth)
		if s.Handshake().Header.Get("X-Test") != "1" {
			return errors.New("no handshake")
		}
		if auth.Token != "ok" {
			return &ConnectError{Message: "denied", Data: map[string]int{"code": 7}}
		}
		return nil
	})
	var sock *Socket
	nsp.OnConnection(func(s *Socket) {
		sock = s
		s.OnDisconnect(func(reason string) { gone = append(gone, reason) })
		s.On("echo", func(e *Event) { _ = e.Ack(e.Args.Values()...) })
		s.On("shout", func(e *Event) { _ = nsp.Emit("all", "hi") })
	})
	cl := r.gw.dial()

	// Refused with data by the backend's middleware; the route ends, so
	// the client may try again.
	cl.send(`40/chat,{"Token":"no"}`)
	if out := cl.out(); !slices.Equal(out, []string{`44/chat,{"message":"denied","data":{"code":7}}`}) {
		t.Fatalf("refusal: %q", out)
	}
	if r.empties != 1 {
		t.Fatalf("empties after a refusal: %d", r.empties)
	}
	cl.send(`40/chat,{"Token":"ok"}`)
	out := cl.out()
	if len(out) != 1 || !strings.HasPrefix(out[0], `40/chat,{"sid":"`) || sock == nil || !strings.Contains(out[0], sock.ID()) {
		t.Fatalf("connect: %q", out)
	}
	if !sock.Conn().Remote() || sock.Conn().SID() != cl.c.SID() || sock.Conn().Transport() != eio.WebSocket {
		t.Fatalf("the backend's view of the connection")
	}
	// Events and acks both ways, binary included.
	cl.send(`42/chat,7["echo",{"a":1}]`)
	if out := cl.out(); !slices.Equal(out, []string{`43/chat,7[{"a":1}]`}) {
		t.Fatalf("echo: %q", out)
	}
	cl.send(`451-/chat,8["echo",{"_placeholder":true,"num":0}]`, "bin:04beef")
	if out := cl.out(); !slices.Equal(out, []string{`461-/chat,8[{"_placeholder":true,"num":0}]`, "bin:04beef"}) {
		t.Fatalf("binary echo: %q", out)
	}
	var answer Args
	if err := sock.EmitAck("q", func(a Args, err error) { answer = a }, 1); err != nil {
		t.Fatal(err)
	}
	if out := cl.out(); !slices.Equal(out, []string{`42/chat,0["q",1]`}) {
		t.Fatalf("server emit: %q", out)
	}
	cl.send(`43/chat,0["yes"]`)
	if len(answer) != 1 || string(answer[0].JSON) != `"yes"` {
		t.Fatalf("answer: %v", answer)
	}
	cl.send(`42/chat,["shout"]`)
	if out := cl.out(); !slices.Equal(out, []string{`42/chat,["all","hi"]`}) {
		t.Fatalf("broadcast: %q", out)
	}
	// A second CONNECT on an open route closes the session, as locally.
	// First the client's own disconnect: the route ends, the socket too.
	cl.send(`41/chat,`)
	if !slices.Equal(gone, []string{"client namespace disconnect"}) || sock.Connected() {
		t.Fatalf("disconnects: %v", gone)
	}
	if err := cl.c.Forwarded("/chat", &rigRoute{}, []eio.Packet{{Type: eio.Message, Data: []byte("2")}}, false); !errors.Is(err, ErrRouteClosed) {
		t.Fatalf("frames for a closed route: %v", err)
	}
	// Connect again; the session's end reaches the route.
	cl.send(`40/chat,{"Token":"ok"}`)
	if out := cl.out(); len(out) != 1 || !strings.HasPrefix(out[0], `40/chat,{"sid":"`) {
		t.Fatalf("connect again: %q", out)
	}
	cl.c.HandleTransportClose(r.gw.clk.Now(), nil)
	if !slices.Equal(r.closed, []string{"transport close"}) || !slices.Equal(gone, []string{"client namespace disconnect", "transport close"}) {
		t.Fatalf("session end: routes %v, sockets %v", r.closed, gone)
	}
}

func TestForwarderRefusesOrDeclines(t *testing.T) {
	r := newForwardRig(t)
	r.backend.Of("/chat")
	r.gw.srv.Of("/local")
	cl := r.gw.dial()
	r.refuse = &ConnectError{Message: "Namespace unavailable", Data: "none"}
	cl.send(`40/chat,`)
	if out := cl.out(); !slices.Equal(out, []string{`44/chat,{"message":"Namespace unavailable","data":"none"}`}) {
		t.Fatalf("refusal: %q", out)
	}
	// Namespaces the forwarder declines are served here.
	cl.connect("/local")
	// A second CONNECT to a forwarded namespace closes the session.
	r.refuse = nil
	cl.connect("/chat")
	cl.send(`40/chat,`)
	if !cl.c.Closed() {
		t.Fatal("a second CONNECT on a route kept the session")
	}
}

func TestRemoteDisconnectCloseEndsTheClientSession(t *testing.T) {
	r := newForwardRig(t)
	r.backend.Of("/chat").OnConnection(func(s *Socket) {
		s.On("bye", func(e *Event) { s.Disconnect(true) })
	})
	cl := r.gw.dial()
	cl.connect("/chat")
	cl.send(`42/chat,["bye"]`)
	if !cl.c.Closed() {
		t.Fatal("Disconnect(true) on the backend left the client's session open")
	}
	if _, err := r.backend.NewRemoteConn("x", eio.WebSocket, Handshake{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewServer(Config{}).NewRemoteConn("x", eio.WebSocket, Handshake{}, nil, nil); !errors.Is(err, ErrNoGo) {
		t.Fatalf("without Config.Go: %v", err)
	}
}

// recLink records what a remote connection sends.
type recLink struct {
	mu     sync.Mutex
	frames []string
}

func (l *recLink) Send(frames []eio.Packet, volatile bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range frames {
		l.frames = append(l.frames, string(f.Data))
	}
	return nil
}
func (l *recLink) Close(eio.Reason) {}
func (l *recLink) Empty()           {}

func (l *recLink) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.frames
	l.frames = nil
	return out
}

// A socket handed over from a node that died keeps its id, runs the
// middlewares and connection handlers again with its auth, and says so;
// a refusal is a connect_error as for any connect.
func TestHandoverKeepsTheSocket(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	srv := NewServer(Config{Go: func(fn func()) { fn() }, Clock: clk.Now})
	nsp := srv.Of("/chat")
	nsp.Use(func(s *Socket) error {
		var auth struct{ Token string }
		_ = s.Handshake().Auth.Bind(&auth)
		if auth.Token != "ok" {
			return &ConnectError{Message: "denied"}
		}
		return nil
	})
	var got []*Socket
	var events []string
	nsp.OnConnection(func(s *Socket) {
		got = append(got, s)
		s.On("e", func(e *Event) {
			var n string
			_ = e.Bind(&n)
			events = append(events, s.ID()+":"+n)
		})
	})
	link := &recLink{}
	rc, err := srv.NewRemoteConn("sess", eio.WebSocket, Handshake{}, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc.HandleHandover(clk.Now(), &sio.Packet{Type: sio.Connect, Namespace: "/chat", Data: []byte(`{"Token":"ok"}`)}, "kept-id")
	rc.HandlePacket(clk.Now(), &sio.Packet{Type: sio.Event, Namespace: "/chat", Data: []byte(`["e","1"]`)})
	if out := link.take(); !slices.Equal(out, []string{`0/chat,{"sid":"kept-id"}`}) {
		t.Fatalf("handover answer: %q", out)
	}
	if len(got) != 1 || got[0].ID() != "kept-id" || !got[0].HandedOver() || !slices.Equal(events, []string{"kept-id:1"}) {
		t.Fatalf("handed-over socket: %d sockets, events %v", len(got), events)
	}
	if err := nsp.To("kept-id").Emit("to-room", 1); err != nil {
		t.Fatal(err)
	}
	if out := link.take(); !slices.Equal(out, []string{`2/chat,["to-room",1]`}) {
		t.Fatalf("the room of the kept id: %q", out)
	}
	// Another namespace of the same connection, connected the usual way.
	srv.Of("/other").OnConnection(func(s *Socket) { got = append(got, s) })
	rc.HandlePacket(clk.Now(), &sio.Packet{Type: sio.Connect, Namespace: "/other"})
	if out := link.take(); len(out) != 1 || strings.Contains(out[0], "kept-id") || len(got) != 2 || got[1].HandedOver() {
		t.Fatalf("a plain connect after a handover: %q", out)
	}
	// A handover the middlewares refuse.
	rc2, err := srv.NewRemoteConn("sess2", eio.WebSocket, Handshake{}, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc2.HandleHandover(clk.Now(), &sio.Packet{Type: sio.Connect, Namespace: "/chat", Data: []byte(`{"Token":"no"}`)}, "other-id")
	if out := link.take(); !slices.Equal(out, []string{`4/chat,{"message":"denied"}`}) || !rc2.Empty() {
		t.Fatalf("refused handover: %q", out)
	}
	// Only a CONNECT with an id is a handover.
	rc2.HandleHandover(clk.Now(), &sio.Packet{Type: sio.Event, Namespace: "/chat", Data: []byte(`["e","2"]`)}, "x")
	rc2.HandleHandover(clk.Now(), &sio.Packet{Type: sio.Connect, Namespace: "/chat", Data: []byte(`{"Token":"ok"}`)}, "")
	if out := link.take(); len(out) != 0 || len(got) != 2 || rc2.Conn().Closed() {
		t.Fatalf("not handovers: %q", out)
	}
}
