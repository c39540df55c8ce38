package transport_test

// The scenarios that httpadapter/interop_test.go runs with the official
// JavaScript client (httpadapter/testdata/node/scenario.js), run here with
// the Go client against the Go server, with the same checks.

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/client"
	"github.com/sio-go/sio/httpadapter"
	"github.com/sio-go/sio/transport"
)

// scDisc is a disconnection seen by the server.
type scDisc struct {
	sid    string // Engine.IO session id
	id     string // socket id
	nsp    string
	reason string
	at     time.Time
}

// scRecorder collects what the server's handlers see, as channels.
type scRecorder struct {
	conns chan *core.Socket
	discs chan scDisc
}

func newSCRecorder() *scRecorder {
	return &scRecorder{conns: make(chan *core.Socket, 1024), discs: make(chan scDisc, 1024)}
}

// attach records the connections and disconnections of nsp and answers
// "echo" with its own arguments.
func (r *scRecorder) attach(nsp *core.Namespace) {
	nsp.OnConnection(func(s *core.Socket) {
		s.On("echo", func(e *core.Event) { _ = e.Ack(e.Args.Values()...) })
		s.OnDisconnect(func(reason string) {
			r.discs <- scDisc{sid: s.Conn().SID(), id: s.ID(), nsp: nsp.Name(), reason: reason, at: time.Now()}
		})
		r.conns <- s
	})
}

// disconnectOf waits for the disconnect of the socket on session sid.
func (r *scRecorder) disconnectOf(t *testing.T, sid string) scDisc {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case d := <-r.discs:
			if d.sid == sid {
				return d
			}
		case <-deadline:
			t.Fatalf("timed out waiting for the disconnect of session %s", sid)
		}
	}
}

// Scenario 1: polling only, websocket only, polling upgraded to websocket.
func TestClientScenario_Transports(t *testing.T) {
	forModes(t, func(t *testing.T, md mode) {
		want := md.transports[len(md.transports)-1]
		rec := newSCRecorder()
		_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) { rec.attach(srv.Of("/")) })
		c := dial(t, ts.URL, md, nil) // waits for the upgrade in mode upgrade
		s := c.Socket("/", nil)
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		ss := recv(t, rec.conns, "the connection")
		if s.ID() != ss.ID() || c.SID() != ss.Conn().SID() {
			t.Errorf("client sees socket %s on session %s; server has %s on %s", s.ID(), c.SID(), ss.ID(), ss.Conn().SID())
		}
		if !md.upgraded && c.Transport() != want {
			t.Errorf("client connected over %q, want %q", c.Transport(), want)
		}
		args, err := s.EmitWithAck(ctxT(t), "echo", "hello")
		var ans string
		if err != nil || len(args) != 1 || args.Bind(&ans) != nil || ans != "hello" {
			t.Errorf("ack %v, %v; want \"hello\"", args, err)
		}
		if got := c.Transport(); got != want {
			t.Errorf("client transport after the ack %q, want %q", got, want)
		}
		if got := ss.Conn().Transport().String(); got != want {
			t.Errorf("server session transport %q, want %q", got, want)
		}
		sid := c.SID()
		s.Disconnect()
		if d := rec.disconnectOf(t, sid); d.reason != "client namespace disconnect" {
			t.Errorf("disconnect reason %q, want \"client namespace disconnect\"", d.reason)
		}
	})
}

// Scenario 2: events and acknowledgements both ways, and timed-out acks on
// both sides. The heartbeat keeps its default (25s) so that an ack timeout
// can only fire on time if each side's timer follows the ack deadline.
func TestClientScenario_EventsAndAcks(t *testing.T) {
	forModes(t, func(t *testing.T, md mode) {
		rec := newSCRecorder()
		c2s := make(chan core.Args, 1)
		neverAcked := make(chan bool, 1)
		_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
			rec.attach(srv.Of("/"))
			srv.Of("/").OnConnection(func(s *core.Socket) {
				s.On("c2s", func(e *core.Event) { c2s <- e.Args })
				s.On("ask", func(e *core.Event) {
					var q string
					if err := e.Bind(&q); err != nil {
						t.Errorf("bind ask: %v", err)
					}
					_ = e.Ack("answer-to-"+q, 2)
				})
				s.On("never-acked", func(e *core.Event) { neverAcked <- e.WantsAck() })
			})
		})
		c := dial(t, ts.URL, md, nil)
		s := c.Socket("/", nil)
		s2c := make(chan []any, 1)
		s.On("s2c", func(e *transport.ClientEvent) {
			vals := make([]any, len(e.Args))
			for i := range e.Args {
				if err := e.Args[i].Bind(&vals[i]); err != nil {
					t.Errorf("bind s2c argument %d: %v", i, err)
				}
			}
			s2c <- vals
		})
		s.On("question", func(e *transport.ClientEvent) {
			var q string
			_ = e.Bind(&q)
			_ = e.Ack("reply-to-"+q, 7)
		})
		s.On("question2", func(e *transport.ClientEvent) {
			var q string
			_ = e.Bind(&q)
			_ = e.Ack(struct {
				Q  string `json:"q"`
				OK bool   `json:"ok"`
			}{q, true})
		})
		silentAsk := make(chan string, 2)
		s.On("silent-ask", func(e *transport.ClientEvent) { // never answers
			var v string
			_ = e.Bind(&v)
			silentAsk <- v
		})
		finished := make(chan struct{})
		s.On("finish", func(*transport.ClientEvent) {
			s.Disconnect()
			close(finished)
		})
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		ss := recv(t, rec.conns, "the connection")

		// Client to server, without ack.
		if err := s.Emit("c2s", 1, "two", map[string]any{"three": []int{3}}, nil, true); err != nil {
			t.Fatal(err)
		}
		args := recv(t, c2s, "c2s")
		var (
			one   int
			two   string
			three struct{ Three []int }
			four  any = "untouched"
			five  bool
		)
		if err := args.Bind(&one, &two, &three, &four, &five); err != nil {
			t.Fatalf("bind c2s %v: %v", args, err)
		}
		if len(args) != 5 || one != 1 || two != "two" || !slices.Equal(three.Three, []int{3}) || four != nil || !five {
			t.Errorf("c2s args %v bound to %v %q %v %v %v", args, one, two, three, four, five)
		}

		// Client to server, with ack.
		type answer struct {
			args core.Args
			err  error
		}
		acks := make(chan answer, 1)
		if err := s.EmitAck("ask", func(a core.Args, err error) { acks <- answer{a, err} }, "q1"); err != nil {
			t.Fatal(err)
		}
		a := recv(t, acks, "the ack of ask")
		var r1 string
		var r2 any
		if a.err != nil || len(a.args) != 2 || a.args.Bind(&r1, &r2) != nil || r1 != "answer-to-q1" || r2 != 2.0 {
			t.Errorf("client got ack %v, %v; want [answer-to-q1 2]", a.args, a.err)
		}

		// The client's own timeout, on an event the server never acks.
		start := time.Now()
		if err := s.Timeout(100*time.Millisecond).EmitAck("never-acked", func(a core.Args, err error) { acks <- answer{a, err} }, "x"); err != nil {
			t.Fatal(err)
		}
		if !recv(t, neverAcked, "never-acked") {
			t.Error("server: never-acked event does not want an ack")
		}
		a = recv(t, acks, "the client's ack timeout")
		elapsed := time.Since(start)
		if !errors.Is(a.err, client.ErrAckTimeout) || a.err.Error() != "operation has timed out" || a.args != nil {
			t.Errorf("client timeout: args %v, err %v; want ErrAckTimeout", a.args, a.err)
		}
		if elapsed < 90*time.Millisecond || elapsed > time.Second {
			t.Errorf("the client's 100ms ack timeout fired after %v", elapsed)
		}

		// Server to client, without ack.
		if err := ss.Emit("s2c", "x", 1.5, map[string]any{"k": []any{1, "v"}}, nil); err != nil {
			t.Fatal(err)
		}
		want := []any{"x", 1.5, map[string]any{"k": []any{1.0, "v"}}, nil}
		if got := recv(t, s2c, "s2c"); !reflect.DeepEqual(got, want) {
			t.Errorf("client got s2c %v, want %v", got, want)
		}

		// Server to client with ack: EmitAck, answered by a callback.
		got := make(chan answer, 1)
		if err := ss.EmitAck("question", func(a core.Args, err error) { got <- answer{a, err} }, "qq"); err != nil {
			t.Fatal(err)
		}
		a = recv(t, got, "the answer to question")
		var q1 string
		var q2 int
		if a.err != nil || a.args.Bind(&q1, &q2) != nil || q1 != "reply-to-qq" || q2 != 7 || len(a.args) != 2 {
			t.Errorf("EmitAck answer %v, %v", a.args, a.err)
		}

		// EmitWithAck.
		res, err := ss.EmitWithAck(ctxT(t), "question2", "zz")
		if err != nil || len(res) != 1 || res[0].String() != `{"q":"zz","ok":true}` {
			t.Errorf("EmitWithAck: %v, %v", res, err)
		}

		// A server ack that times out: the client never answers.
		start = time.Now()
		if err := ss.Timeout(100*time.Millisecond).EmitAck("silent-ask", func(a core.Args, err error) { got <- answer{a, err} }, "v"); err != nil {
			t.Fatal(err)
		}
		a = recv(t, got, "the server's ack timeout")
		elapsed = time.Since(start)
		if !errors.Is(a.err, core.ErrAckTimeout) || a.err.Error() != "operation has timed out" {
			t.Errorf("timed-out ack: args %v, err %v; want ErrAckTimeout", a.args, a.err)
		}
		if elapsed < 90*time.Millisecond || elapsed > time.Second {
			t.Errorf("the server's 100ms ack timeout fired after %v", elapsed)
		}
		if v := recv(t, silentAsk, "silent-ask"); v != "v" {
			t.Errorf("client got silent-ask %q", v)
		}

		// The same with EmitWithAck.
		start = time.Now()
		res, err = ss.Timeout(100*time.Millisecond).EmitWithAck(ctxT(t), "silent-ask", "w")
		elapsed = time.Since(start)
		if !errors.Is(err, core.ErrAckTimeout) {
			t.Errorf("timed-out EmitWithAck: %v, %v; want ErrAckTimeout", res, err)
		}
		if elapsed < 90*time.Millisecond || elapsed > time.Second {
			t.Errorf("the 100ms EmitWithAck timeout fired after %v", elapsed)
		}
		if v := recv(t, silentAsk, "silent-ask"); v != "w" {
			t.Errorf("client got silent-ask %q", v)
		}

		sid := c.SID()
		_ = ss.Emit("finish")
		recv(t, finished, "finish")
		if d := rec.disconnectOf(t, sid); d.reason != "client namespace disconnect" {
			t.Errorf("disconnect reason %q, want \"client namespace disconnect\"", d.reason)
		}
	})
}

// Scenario 3: binary nested in structs, maps and slices, both ways, in
// events and acks.
func TestClientScenario_Binary(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := make([]byte, 100000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	type nested struct {
		Inner []byte   `json:"inner"`
		List  [][]byte `json:"list"`
	}
	type upArg struct {
		Name   string `json:"name"`
		Data   []byte `json:"data"`
		Nested nested `json:"nested"`
	}
	type upResult struct {
		a   upArg
		m   map[string]any
		n   int
		err error
	}
	forModes(t, func(t *testing.T, md mode) {
		rec := newSCRecorder()
		ups := make(chan upResult, 1)
		_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
			rec.attach(srv.Of("/"))
			srv.Of("/").OnConnection(func(s *core.Socket) {
				s.On("up", func(e *core.Event) {
					var r upResult
					r.n = len(e.Args)
					r.err = e.Bind(&r.a, &r.m)
					ups <- r
				})
				s.On("up-ask", func(e *core.Event) {
					var q []byte
					if err := e.Bind(&q); err != nil {
						t.Errorf("bind up-ask: %v", err)
					}
					_ = e.Ack(append([]byte("answer:"), q...), map[string]any{"bin": []byte{1, 2}, "s": "t"})
				})
			})
		})
		c := dial(t, ts.URL, md, nil)
		s := c.Socket("/", nil)
		type downArg struct {
			Data   []byte         `json:"data"`
			Nested map[string]any `json:"nested"`
			List   []any          `json:"list"`
		}
		// The same, bound to typed fields only (an any nested in a struct
		// gets the base64 string of its attachment, as Bind documents).
		type downTyped struct {
			Data   []byte `json:"data"`
			Nested struct {
				X     []byte `json:"x"`
				Empty []byte `json:"empty"`
				N     int    `json:"n"`
			} `json:"nested"`
		}
		type down struct {
			n     int
			typed downTyped
			m     map[string]any
			b     []byte
			str   string
			err   error
		}
		downs := make(chan down, 1)
		s.On("bin", func(e *transport.ClientEvent) {
			var d down
			d.n = len(e.Args)
			d.err = e.Bind(&d.m, &d.b, &d.str)
			if d.err == nil {
				d.err = e.Bind(&d.typed)
			}
			downs <- d
		})
		asks := make(chan map[string]any, 1)
		s.On("bin-ask", func(e *transport.ClientEvent) {
			var v map[string]any
			if err := e.Bind(&v); err != nil {
				t.Errorf("bind bin-ask: %v", err)
			}
			asks <- v
			_ = e.Ack(map[string]any{"reply": []byte{9, 8, 7}, "list": []any{[]byte("ack"), 1}})
		})
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		ss := recv(t, rec.conns, "the connection")

		// Client to server.
		err := s.Emit("up",
			upArg{Name: "first", Data: all, Nested: nested{Inner: []byte{1, 2, 3}, List: [][]byte{{4}, {}}}},
			map[string]any{"a": []byte{0xde, 0xad}, "b": []any{[]byte{0xbe, 0xef}, "s", 2}, "c": map[string]any{"d": big}},
		)
		if err != nil {
			t.Fatal(err)
		}
		r := recv(t, ups, "up")
		if r.err != nil {
			t.Fatalf("bind up: %v", r.err)
		}
		if r.n != 2 || r.a.Name != "first" || !slices.Equal(r.a.Data, all) || !slices.Equal(r.a.Nested.Inner, []byte{1, 2, 3}) ||
			len(r.a.Nested.List) != 2 || !slices.Equal(r.a.Nested.List[0], []byte{4}) || len(r.a.Nested.List[1]) != 0 {
			t.Errorf("up arg 0 bound to %+v", r.a)
		}
		wantM := map[string]any{
			"a": []byte{0xde, 0xad},
			"b": []any{[]byte{0xbe, 0xef}, "s", 2.0},
			"c": map[string]any{"d": big},
		}
		if !reflect.DeepEqual(r.m, wantM) {
			t.Errorf("up arg 1 bound to a map: %.300v, want %.300v", r.m, wantM)
		}
		res, err := s.EmitWithAck(ctxT(t), "up-ask", []byte("question"))
		if err != nil {
			t.Fatal(err)
		}
		var ab []byte
		var am map[string]any
		if len(res) != 2 || res.Bind(&ab, &am) != nil || string(ab) != "answer:question" ||
			!reflect.DeepEqual(am, map[string]any{"bin": []byte{1, 2}, "s": "t"}) {
			t.Errorf("client got the binary ack %v (%q, %v)", res, ab, am)
		}

		// Server to client.
		err = ss.Emit("bin", downArg{
			Data:   all,
			Nested: map[string]any{"x": []byte{1, 2, 3}, "empty": []byte{}, "n": 1},
			List:   []any{[]byte{4, 5}, "s", map[string]any{"deep": []byte{6}}},
		}, []byte{7, 7}, "plain")
		if err != nil {
			t.Fatal(err)
		}
		d := recv(t, downs, "bin")
		if d.err != nil {
			t.Fatalf("bind bin: %v", d.err)
		}
		wantDown := map[string]any{
			"data":   all,
			"nested": map[string]any{"x": []byte{1, 2, 3}, "empty": []byte{}, "n": 1.0},
			"list":   []any{[]byte{4, 5}, "s", map[string]any{"deep": []byte{6}}},
		}
		if d.n != 3 || !reflect.DeepEqual(d.m, wantDown) || !slices.Equal(d.b, []byte{7, 7}) || d.str != "plain" {
			t.Errorf("client got %d args: %.300v %v %q,\nwant %.300v [7 7] \"plain\"", d.n, d.m, d.b, d.str, wantDown)
		}
		if tn := d.typed.Nested; !slices.Equal(d.typed.Data, all) || !slices.Equal(tn.X, []byte{1, 2, 3}) || tn.Empty == nil || len(tn.Empty) != 0 || tn.N != 1 {
			t.Errorf("client bound bin to the struct %.300v", d.typed)
		}

		// Server to client with a binary answer.
		res, err = ss.EmitWithAck(ctxT(t), "bin-ask", map[string]any{"q": []byte{0, 1}})
		if err != nil {
			t.Fatal(err)
		}
		if v := recv(t, asks, "bin-ask"); !reflect.DeepEqual(v, map[string]any{"q": []byte{0, 1}}) {
			t.Errorf("client got bin-ask %v, want map[q:[0 1]]", v)
		}
		var back map[string]any
		if len(res) != 1 || res[0].Bind(&back) != nil {
			t.Fatalf("bin-ask answer %v", res)
		}
		if want := map[string]any{"reply": []byte{9, 8, 7}, "list": []any{[]byte("ack"), 1.0}}; !reflect.DeepEqual(back, want) {
			t.Errorf("bin-ask answer bound to %v, want %v", back, want)
		}
	})
}

// Scenario 4: the main namespace and a custom one on one client (one
// Engine.IO session), and a dynamic namespace with a parent connection
// handler.
func TestClientScenario_Namespaces(t *testing.T) {
	forModes(t, func(t *testing.T, md mode) {
		rec := newSCRecorder()
		dyn := make(chan *core.Socket, 4)
		var parent *core.ParentNamespace
		srv, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
			rec.attach(srv.Of("/"))
			rec.attach(srv.Of("/admin"))
			parent = srv.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))
			parent.OnConnection(func(s *core.Socket) {
				_ = s.Emit("welcome", s.Namespace().Name())
				s.OnDisconnect(func(reason string) {
					rec.discs <- scDisc{sid: s.Conn().SID(), id: s.ID(), nsp: s.Namespace().Name(), reason: reason, at: time.Now()}
				})
				dyn <- s
			})
		})
		c := dial(t, ts.URL, md, &transport.ClientOptions{Reconnection: transport.Bool(false)})
		root := c.Socket("", nil)
		admin := c.Socket("/admin", nil)
		dsock := c.Socket("/dyn-42", nil)
		bad := c.Socket("/dyn-x", nil)
		welcome := make(chan string, 1)
		dsock.On("welcome", func(e *transport.ClientEvent) {
			var name string
			_ = e.Bind(&name)
			welcome <- name
		})
		reasons := make(chan string, 8)
		for _, x := range []*transport.ClientSocket{root, admin, dsock} {
			x.OnDisconnect(func(r string) { offer(reasons, x.Namespace()+" "+r) })
		}
		// All four join together, the refused one once the other three
		// are active: a refusal that finds no socket active closes the
		// session, as the reference client does, and the next Connect
		// would open a second.
		errs := make(chan error, 4)
		var wg sync.WaitGroup
		join := func(x *transport.ClientSocket) {
			wg.Go(func() {
				if err := x.Connect(ctxT(t)); err != nil {
					errs <- &nspErr{x.Namespace(), err}
				}
			})
		}
		for _, x := range []*transport.ClientSocket{root, admin, dsock} {
			join(x)
		}
		waitFor(t, "three active sockets", func() bool { return root.Active() && admin.Active() && dsock.Active() })
		join(bad)
		wg.Wait()
		close(errs)
		var badErr error
		for err := range errs {
			if ne := err.(*nspErr); ne.nsp == "/dyn-x" {
				badErr = ne.err
			} else {
				t.Fatalf("connect: %v", err)
			}
		}
		if root.Core().Manager() != admin.Core().Manager() || root.Core().Manager() != dsock.Core().Manager() {
			t.Error("the sockets are on more than one manager")
		}
		socks := map[string]*core.Socket{}
		for range 2 {
			s := recv(t, rec.conns, "a connection")
			socks[s.Namespace().Name()] = s
		}
		rs, as := socks["/"], socks["/admin"]
		if rs == nil || as == nil {
			t.Fatalf("connections on %v", socks)
		}
		ds := recv(t, dyn, "the dynamic namespace connection")
		if rs.ID() != root.ID() || as.ID() != admin.ID() || ds.ID() != dsock.ID() {
			t.Errorf("socket ids: client %s %s %s, server %s %s %s", root.ID(), admin.ID(), dsock.ID(), rs.ID(), as.ID(), ds.ID())
		}
		sid := c.SID()
		for _, s := range []*core.Socket{rs, as, ds} {
			if s.Conn().SID() != sid {
				t.Errorf("socket of %s on session %s, want the one session %s", s.Namespace().Name(), s.Conn().SID(), sid)
			}
		}
		if n := srv.ConnCount(); n != 1 {
			t.Errorf("%d Engine.IO sessions, want 1", n)
		}
		if w := recv(t, welcome, "welcome"); w != "/dyn-42" || ds.Namespace().Name() != "/dyn-42" {
			t.Errorf("dynamic namespace %q (server %q), want /dyn-42", w, ds.Namespace().Name())
		}
		var ce *client.ConnectError
		if !errors.As(badErr, &ce) || ce.Message != "Invalid namespace" {
			t.Errorf("connect to /dyn-x: %v, want \"Invalid namespace\"", badErr)
		}
		var names []string
		for _, n := range parent.Children() {
			names = append(names, n.Name())
		}
		if !slices.Equal(names, []string{"/dyn-42"}) {
			t.Errorf("dynamic children %v, want [/dyn-42]", names)
		}
		if !root.Connected() || !admin.Connected() || !dsock.Connected() {
			t.Error("the refusal of /dyn-x disconnected another namespace")
		}

		// The session itself closes, under every socket.
		e := c.Manager().Engine()
		if e == nil {
			t.Fatal("no session")
		}
		e.Close(time.Now())
		got := map[string]string{}
		for range 3 {
			d := rec.disconnectOf(t, sid)
			got[d.nsp] = d.reason
		}
		if want := map[string]string{"/": "transport close", "/admin": "transport close", "/dyn-42": "transport close"}; !reflect.DeepEqual(got, want) {
			t.Errorf("server disconnect reasons %v, want %v", got, want)
		}
		var cl []string
		for range 3 {
			cl = append(cl, recv(t, reasons, "a client disconnect"))
		}
		slices.Sort(cl)
		if want := []string{"/ forced close", "/admin forced close", "/dyn-42 forced close"}; !slices.Equal(cl, want) {
			t.Errorf("client disconnect reasons %q, want %q", cl, want)
		}
	})
}

type nspErr struct {
	nsp string
	err error
}

func (e *nspErr) Error() string { return e.nsp + ": " + e.err.Error() }

// Scenario 5: rooms and exceptions, with three clients that report the
// exact list they received.
func TestClientScenario_Rooms(t *testing.T) {
	type hello struct {
		name string
		s    *core.Socket
	}
	hellos := make(chan hello, 3)
	var nsp *core.Namespace
	_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
		nsp = srv.Of("/")
		nsp.OnConnection(func(s *core.Socket) {
			s.On("hello", func(e *core.Event) {
				var name string
				var join bool
				if err := e.Bind(&name, &join); err != nil {
					t.Errorf("bind hello: %v", err)
				}
				if join {
					s.Join("r")
				}
				hellos <- hello{name, s}
				_ = e.Ack()
			})
		})
	})
	type report struct {
		name string
		list []string
	}
	reports := make(chan report, 3)
	names := []string{"A", "B", "C"}
	cs := dialMany(t, ts.URL, modes[1], len(names)) // a client each
	for i, name := range names {
		s := cs[i].Socket("/", nil)
		var got []string // the handlers run one at a time
		s.On("m", func(e *transport.ClientEvent) {
			var v string
			_ = e.Bind(&v)
			got = append(got, v)
		})
		s.On("report", func(*transport.ClientEvent) { reports <- report{name, slices.Clone(got)} })
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EmitWithAck(ctxT(t), "hello", name, i < 2); err != nil {
			t.Fatal(err)
		}
	}
	socks := map[string]*core.Socket{}
	for range 3 {
		h := recv(t, hellos, "hello")
		socks[h.name] = h.s
	}
	a, b, c := socks["A"], socks["B"], socks["C"]
	if a == nil || b == nil || c == nil {
		t.Fatalf("sockets %v", socks)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(nsp.To("r").Emit("m", "to-r"))
	must(nsp.Except("r").Emit("m", "except-r"))
	must(nsp.To("r").Except(a.ID()).Emit("m", "r-but-A"))
	must(a.To("r").Emit("m", "A-to-r"))
	must(c.To("r").Emit("m", "C-to-r"))
	must(a.Broadcast().Emit("m", "A-broadcast"))
	must(nsp.Except(b.ID(), c.ID()).Emit("m", "but-B-C"))
	must(nsp.Emit("m", "all"))
	for _, s := range []*core.Socket{a, b, c} {
		must(s.Emit("report"))
	}
	want := map[string][]string{
		"A": {"to-r", "C-to-r", "but-B-C", "all"},
		"B": {"to-r", "r-but-A", "A-to-r", "C-to-r", "A-broadcast", "all"},
		"C": {"except-r", "A-broadcast", "all"},
	}
	seen := map[string]bool{}
	for range 3 {
		g := recv(t, reports, "a report")
		seen[g.name] = true
		if !slices.Equal(g.list, want[g.name]) {
			t.Errorf("client %s got %q, want %q", g.name, g.list, want[g.name])
		}
	}
	if len(seen) != 3 {
		t.Errorf("reports from %v", seen)
	}
}

// dialMany connects n clients, closed together at the end of the test,
// which then checks that none of their goroutines outlives Close.
func dialMany(t *testing.T, url string, md mode, n int) []*transport.Client {
	t.Helper()
	cs := make([]*transport.Client, 0, n)
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Go(func() { _ = c.Close() })
		}
		wg.Wait()
		checkGoroutines(t)
	})
	for range n {
		c, err := transport.Dial(ctxT(t), url, &transport.ClientOptions{Transports: md.transports, Logger: quiet})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		cs = append(cs, c)
	}
	return cs
}

// Scenario 6: a middleware refuses with a message and data; the auth
// payload reaches the middleware.
func TestClientScenario_Middleware(t *testing.T) {
	type auth struct {
		Token string `json:"token"`
		N     int    `json:"n"`
	}
	auths := make(chan auth, 4)
	rec := newSCRecorder()
	_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
		srv.Of("/").Use(func(s *core.Socket) error {
			var v auth
			if err := s.Handshake().Auth.Bind(&v); err != nil {
				return err
			}
			auths <- v
			if v.Token != "good" {
				return &core.ConnectError{Message: "not authorized", Data: map[string]any{"code": 42}}
			}
			return nil
		})
		rec.attach(srv.Of("/"))
	})
	cs := dialMany(t, ts.URL, modes[1], 2) // a client each
	badC, good := cs[0], cs[1]
	badSock := badC.Socket("/", map[string]string{"token": "bad"})
	connErrs := make(chan error, 2)
	badSock.OnConnectError(func(err error) { connErrs <- err })
	err := badSock.Connect(ctxT(t))
	var ce *client.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("refusal: %v, want a *client.ConnectError", err)
	}
	var data map[string]any
	if bindErr := ce.Data.Bind(&data); bindErr != nil || ce.Message != "not authorized" || !reflect.DeepEqual(data, map[string]any{"code": 42.0}) {
		t.Errorf("connect error message %q data %v (%v), want \"not authorized\" {code:42}", ce.Message, data, bindErr)
	}
	if e := recv(t, connErrs, "the connect error handler"); e != err {
		t.Errorf("OnConnectError got %v, Connect returned %v", e, err)
	}
	if badSock.Active() || badSock.Connected() {
		t.Error("the refused socket is still active")
	}
	if a := recv(t, auths, "the first auth"); a != (auth{Token: "bad"}) {
		t.Errorf("middleware saw auth %+v, want token bad", a)
	}

	gs := good.Socket("/", map[string]any{"token": "good", "n": 1})
	gs.OnConnectError(func(err error) { t.Errorf("unexpected refusal: %v", err) })
	if err := gs.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if a := recv(t, auths, "the second auth"); a != (auth{Token: "good", N: 1}) {
		t.Errorf("middleware saw auth %+v, want token good, n 1", a)
	}
	s := recv(t, rec.conns, "the accepted connection")
	if s.ID() != gs.ID() {
		t.Errorf("accepted socket %s, client has %s", s.ID(), gs.ID())
	}
	gs.Disconnect()
	if d := rec.disconnectOf(t, s.Conn().SID()); d.reason != "client namespace disconnect" {
		t.Errorf("disconnect reason %q", d.reason)
	}
	_ = badC.Close()
	select {
	case s := <-rec.conns:
		t.Errorf("a refused client reached the connection handler: %s", s.ID())
	default:
	}
}

// forwarder is a TCP forwarder whose directions can be frozen: from then
// on, nothing more passes that way, neither bytes nor the end of the
// stream, while the connections stay open.
type forwarder struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen [2]bool // [fwdUp] client to server, [fwdDown] server to client
	conns  []net.Conn
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

const (
	fwdUp   = 0
	fwdDown = 1
)

func newForwarder(t *testing.T, target string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln, target: target, done: make(chan struct{})}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *forwarder) url() string { return "http://" + f.ln.Addr().String() }

func (f *forwarder) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", f.target)
		if err != nil {
			c.Close()
			continue
		}
		f.mu.Lock()
		select {
		case <-f.done:
			f.mu.Unlock()
			c.Close()
			s.Close()
			return
		default:
		}
		f.conns = append(f.conns, c, s)
		f.wg.Add(2)
		f.mu.Unlock()
		go f.pipe(s, c, fwdUp)
		go f.pipe(c, s, fwdDown)
	}
}

func (f *forwarder) isFrozen(dir int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frozen[dir]
}

func (f *forwarder) pipe(dst, src net.Conn, dir int) {
	defer f.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if f.isFrozen(dir) {
			<-f.done // held back, never delivered
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			dst.Close()
			src.Close()
			return
		}
	}
}

func (f *forwarder) freeze(dirs ...int) {
	f.mu.Lock()
	for _, d := range dirs {
		f.frozen[d] = true
	}
	f.mu.Unlock()
}

// close ends the forwarder and its connections, and waits for its
// goroutines.
func (f *forwarder) close() {
	f.once.Do(func() {
		f.ln.Close()
		f.mu.Lock()
		close(f.done)
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
}

// Scenario 7a: the server detects a silent client. What the client sends
// stops at a frozen forwarder (its pongs never arrive), and the server
// drops the session with "ping timeout" after pingInterval + pingTimeout.
func TestClientScenario_HeartbeatServerDetects(t *testing.T) {
	const interval, timeout = 200 * time.Millisecond, 300 * time.Millisecond
	for _, md := range modes[:2] {
		t.Run(md.name, func(t *testing.T) {
			rec := newSCRecorder()
			_, ts := newServer(t, httpadapter.Options{PingInterval: interval, PingTimeout: timeout}, func(srv *httpadapter.Server) {
				rec.attach(srv.Of("/"))
			})
			fw := newForwarder(t, ts.Listener.Addr().String())
			start := time.Now()
			c := dial(t, fw.url(), md, &transport.ClientOptions{Reconnection: transport.Bool(false), WriteTimeout: time.Second})
			t.Cleanup(fw.close) // before the client's Close
			s := c.Socket("/", nil)
			reasons := make(chan string, 1)
			s.OnDisconnect(func(r string) { offer(reasons, r) })
			if err := s.Connect(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			ss := recv(t, rec.conns, "the connection")
			fw.freeze(fwdUp)
			frozen := time.Now()
			d := rec.disconnectOf(t, ss.Conn().SID())
			if d.reason != "ping timeout" {
				t.Errorf("server disconnect reason %q, want \"ping timeout\"", d.reason)
			}
			// The first ping goes out interval after the handshake, which
			// came after start.
			if el := d.at.Sub(start); el < interval+timeout-20*time.Millisecond {
				t.Errorf("server declared the client dead %v after the dial, want at least %v", el, interval+timeout)
			}
			if el := d.at.Sub(frozen); el > interval+timeout+700*time.Millisecond {
				t.Errorf("server noticed %v after the freeze, want about %v at most", el, interval+timeout)
			}
			// The client then loses the session too, one way or another.
			r := recv(t, reasons, "the client's disconnect")
			t.Logf("client disconnect reason %q", r)
			fw.close()
		})
	}
}

// Scenario 7b: the client detects a silent server: the forwarder freezes
// both ways, as a dead network, and each side declares "ping timeout" by
// its own clock.
func TestClientScenario_HeartbeatClientDetects(t *testing.T) {
	const interval, timeout = 200 * time.Millisecond, 300 * time.Millisecond
	for _, md := range modes[:2] {
		t.Run(md.name, func(t *testing.T) {
			rec := newSCRecorder()
			_, ts := newServer(t, httpadapter.Options{PingInterval: interval, PingTimeout: timeout}, func(srv *httpadapter.Server) {
				rec.attach(srv.Of("/"))
			})
			fw := newForwarder(t, ts.Listener.Addr().String())
			start := time.Now()
			c := dial(t, fw.url(), md, &transport.ClientOptions{Reconnection: transport.Bool(false), WriteTimeout: time.Second})
			t.Cleanup(fw.close) // before the client's Close
			s := c.Socket("/", nil)
			type disc struct {
				reason string
				at     time.Time
			}
			discs := make(chan disc, 1)
			s.OnDisconnect(func(r string) { offer(discs, disc{r, time.Now()}) })
			if err := s.Connect(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			ss := recv(t, rec.conns, "the connection")
			fw.freeze(fwdUp, fwdDown)
			frozen := time.Now()
			d := recv(t, discs, "the client's disconnect")
			if d.reason != client.ReasonPingTimeout {
				t.Errorf("client disconnect reason %q, want \"ping timeout\"", d.reason)
			}
			if el := d.at.Sub(start); el < interval+timeout-20*time.Millisecond {
				t.Errorf("client declared the server dead %v after the dial, want at least %v", el, interval+timeout)
			}
			if el := d.at.Sub(frozen); el > interval+timeout+700*time.Millisecond {
				t.Errorf("client noticed %v after the freeze, want about %v at most", el, interval+timeout)
			}
			sd := rec.disconnectOf(t, ss.Conn().SID())
			if sd.reason != "ping timeout" {
				t.Errorf("server disconnect reason %q, want \"ping timeout\"", sd.reason)
			}
			if el := sd.at.Sub(frozen); el > interval+timeout+700*time.Millisecond {
				t.Errorf("server noticed %v after the freeze", el)
			}
			fw.close()
		})
	}
}

// Scenario 8: the server restarts on the same address; the client
// reconnects by itself and emits again, from its connect handler.
func TestClientScenario_Restart(t *testing.T) {
	for _, md := range modes[:2] {
		t.Run(md.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			type hello struct {
				server string
				n      int
			}
			hellos := make(chan hello, 4)
			start := func(l net.Listener, name string) (*httpadapter.Server, *httptest.Server) {
				srv := httpadapter.New(httpadapter.Options{Logger: quiet})
				srv.Of("/").OnConnection(func(s *core.Socket) {
					s.On("hello", func(e *core.Event) {
						var n int
						_ = e.Bind(&n)
						hellos <- hello{name, n}
						_ = e.Ack(name, n)
					})
				})
				ts := httptest.NewUnstartedServer(srv)
				ts.Listener.Close()
				ts.Listener = l
				ts.Start()
				return srv, ts
			}
			stop := func(srv *httpadapter.Server, ts *httptest.Server) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Close(ctx)
				ts.CloseClientConnections()
				ts.Close()
			}
			srv1, ts1 := start(ln, "one")
			var once sync.Once
			stopped := func() { once.Do(func() { stop(srv1, ts1) }) }
			t.Cleanup(stopped)

			c := dial(t, "http://"+addr, md, &transport.ClientOptions{
				ReconnectionDelay:    50 * time.Millisecond,
				ReconnectionDelayMax: 100 * time.Millisecond,
				RandomizationFactor:  -1,
			})
			s := c.Socket("/", nil)
			type ack struct {
				n    int
				args core.Args
				err  error
			}
			acks := make(chan ack, 4)
			var n atomic.Int32
			s.OnConnect(func() {
				k := int(n.Add(1))
				_ = s.Timeout(5*time.Second).EmitAck("hello", func(a core.Args, err error) { acks <- ack{k, a, err} }, k)
			})
			reasons := make(chan string, 4)
			s.OnDisconnect(func(r string) { offer(reasons, r) })
			reconnects := make(chan int, 1)
			c.Manager().OnReconnect(func(attempts int) { reconnects <- attempts })
			if err := s.Connect(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			check := func(server string, k int) {
				t.Helper()
				if h := recv(t, hellos, "a hello"); h != (hello{server, k}) {
					t.Errorf("hello %+v, want {%s %d}", h, server, k)
				}
				a := recv(t, acks, "a hello ack")
				var name string
				var m int
				if a.err != nil || a.n != k || len(a.args) != 2 || a.args.Bind(&name, &m) != nil || name != server || m != k {
					t.Errorf("hello ack %d: %v, %v; want [%s %d]", a.n, a.args, a.err, server, k)
				}
			}
			check("one", 1)

			stopped()
			// A WebSocket gets its close frame. A polling client gets the
			// close packet if a poll of its is pending at the close; if it
			// is between two polls, its session is dropped and its next
			// poll fails.
			if r := recv(t, reasons, "the disconnect"); r != client.ReasonTransportClose && (md.name != "polling" || r != client.ReasonTransportError) {
				t.Errorf("client disconnect reason %q at the server's close over %s", r, md.name)
			}

			var ln2 net.Listener
			waitFor(t, "the port", func() bool {
				ln2, err = net.Listen("tcp", addr)
				return err == nil
			})
			srv2, ts2 := start(ln2, "two")
			t.Cleanup(func() { stop(srv2, ts2) })
			recv(t, reconnects, "the reconnection")
			check("two", 2)
			if !s.Connected() || !c.Connected() {
				t.Error("not connected after the restart")
			}
		})
	}
}

// Scenario 9: 200 clients (WebSocket) in one process each get every one of
// 20 broadcasts exactly once, in order.
func TestClientScenario_ManyClients(t *testing.T) {
	const clients, events = 200, 20
	var n atomic.Int32
	all := make(chan struct{})
	var nsp *core.Namespace
	_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
		nsp = srv.Of("/")
		nsp.OnConnection(func(s *core.Socket) {
			if n.Add(1) == clients {
				close(all)
			}
		})
	})
	type result struct {
		i   int
		got []int
	}
	results := make(chan result, clients)
	cs := make([]*transport.Client, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			c, err := transport.NewClient(ts.URL, &transport.ClientOptions{Transports: []string{"websocket"}, Logger: quiet})
			if err != nil {
				errs <- err
				return
			}
			cs[i] = c
			s := c.Socket("/", nil)
			var got []int // the handlers run one at a time
			s.On("n", func(e *transport.ClientEvent) {
				var v int
				_ = e.Bind(&v)
				got = append(got, v)
			})
			s.On("end", func(*transport.ClientEvent) { results <- result{i, got} })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.Connect(ctx); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, c := range cs {
			if c != nil {
				wg.Go(func() { _ = c.Close() })
			}
		}
		wg.Wait()
		checkGoroutines(t)
	})
	close(errs)
	for err := range errs {
		t.Fatalf("connect: %v", err)
	}
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		t.Fatalf("%d of %d clients connected", n.Load(), clients)
	}
	if got := nsp.SocketCount(); got != clients {
		t.Errorf("%d sockets in /, want %d", got, clients)
	}
	for i := 1; i <= events; i++ {
		if err := nsp.Emit("n", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := nsp.Emit("end"); err != nil {
		t.Fatal(err)
	}
	want := make([]int, events)
	for i := range want {
		want[i] = i + 1
	}
	seen := make(map[int]bool, clients)
	var bad []result
	deadline := time.After(30 * time.Second)
	for range clients {
		select {
		case r := <-results:
			if seen[r.i] {
				t.Errorf("client %d got end twice", r.i)
			}
			seen[r.i] = true
			if !slices.Equal(r.got, want) {
				bad = append(bad, r)
			}
		case <-deadline:
			t.Fatalf("%d of %d clients got the end", len(seen), clients)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d clients did not get 1..%d exactly once in order; first: %+v", len(bad), events, bad[0])
	}
	if got := n.Load(); got != clients {
		t.Errorf("%d connections, want %d", got, clients)
	}
}
