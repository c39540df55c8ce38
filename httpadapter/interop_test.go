package httpadapter_test

// End-to-end interoperability: the official JavaScript client, driven by
// the scenario script testdata/node/scenario.js, against the Go server.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"reflect"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
)

// clientOpts are the client options of a scenario limited to transports
// (nil: the client's default, polling then upgrade).
func clientOpts(transports ...string) map[string]any {
	if len(transports) == 0 {
		return map[string]any{}
	}
	return map[string]any{"transports": transports}
}

var bothTransports = []string{"polling", "websocket"}

// Scenario 1: polling only, websocket only, polling upgraded to websocket.
func TestInteropTransports(t *testing.T) {
	requireNode(t)
	for _, tc := range []struct {
		name       string
		transports []string
		upgrade    bool
		want       string
	}{
		{"polling", []string{"polling"}, false, "polling"},
		{"websocket", []string{"websocket"}, false, "websocket"},
		{"upgrade", nil, true, "websocket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			e := newEnv(t, httpadapter.Options{}, func(srv *httpadapter.Server) { rec.attach(srv.Of("/")) })
			p := e.startNode("transports", map[string]any{"client": clientOpts(tc.transports...), "waitUpgrade": tc.upgrade})
			var c struct{ ID, Transport, EngineID string }
			p.expect("connect").Decode(t, &c)
			s := recv(t, rec.conns, "the connection")
			if c.ID != s.ID() || c.EngineID != s.Conn().SID() {
				t.Errorf("client sees socket %s on session %s; server has %s on %s", c.ID, c.EngineID, s.ID(), s.Conn().SID())
			}
			if tc.upgrade {
				var u struct{ Transport, UpgradedTo string }
				p.expect("upgrade").Decode(t, &u)
				if u.Transport != "websocket" || u.UpgradedTo != "websocket" {
					t.Errorf("at the upgrade event the client's transport is %q (upgraded to %q), want websocket", u.Transport, u.UpgradedTo)
				}
			} else if c.Transport != tc.want {
				t.Errorf("client connected over %q, want %q", c.Transport, tc.want)
			}
			var a struct {
				Ans       any
				Transport string
			}
			p.expect("acked").Decode(t, &a)
			if a.Ans != "hello" || a.Transport != tc.want {
				t.Errorf("ack %v over %q, want \"hello\" over %q", a.Ans, a.Transport, tc.want)
			}
			if got := s.Conn().Transport().String(); got != tc.want {
				t.Errorf("server session transport %q, want %q", got, tc.want)
			}
			p.expect("end")
			if d := rec.disconnectOf(t, s.Conn().SID()); d.reason != "client namespace disconnect" {
				t.Errorf("disconnect reason %q, want \"client namespace disconnect\"", d.reason)
			}
		})
	}
}

// Scenario 2: events and acknowledgements both ways, and timed-out acks on
// both sides. The heartbeat keeps its default (25s) so that an ack timeout
// can only fire on time if the session's timer follows the ack deadline.
func TestInteropEventsAndAcks(t *testing.T) {
	requireNode(t)
	for _, tr := range bothTransports {
		t.Run(tr, func(t *testing.T) {
			rec := newRecorder()
			c2s := make(chan core.Args, 1)
			neverAcked := make(chan bool, 1)
			e := newEnv(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
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
			p := e.startNode("events", map[string]any{"client": clientOpts(tr)})
			p.expect("connect")
			s := recv(t, rec.conns, "the connection")

			// Client to server, without ack.
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
			var ack struct{ Args []any }
			p.expect("ack").Decode(t, &ack)
			if !reflect.DeepEqual(ack.Args, []any{"answer-to-q1", 2.0}) {
				t.Errorf("client got ack %v, want [answer-to-q1 2]", ack.Args)
			}

			// The client's own timeout, on an event the server never acks.
			if !recv(t, neverAcked, "never-acked") {
				t.Error("server: never-acked event does not want an ack")
			}
			var ct struct {
				Message string
				Elapsed float64
			}
			p.expect("client-timeout").Decode(t, &ct)
			if ct.Message != "operation has timed out" {
				t.Errorf("client timeout error %q", ct.Message)
			}

			// Server to client, without ack.
			if err := s.Emit("s2c", "x", 1.5, map[string]any{"k": []any{1, "v"}}, nil); err != nil {
				t.Fatal(err)
			}
			var s2c struct{ Args []any }
			p.expect("s2c").Decode(t, &s2c)
			want := []any{"x", 1.5, map[string]any{"k": []any{1.0, "v"}}, nil}
			if !reflect.DeepEqual(s2c.Args, want) {
				t.Errorf("client got s2c %v, want %v", s2c.Args, want)
			}

			// Server to client with ack: EmitAck, answered by a callback.
			type answer struct {
				args core.Args
				err  error
			}
			got := make(chan answer, 1)
			if err := s.EmitAck("question", func(a core.Args, err error) { got <- answer{a, err} }, "qq"); err != nil {
				t.Fatal(err)
			}
			a := recv(t, got, "the answer to question")
			var r1 string
			var r2 int
			if a.err != nil || a.args.Bind(&r1, &r2) != nil || r1 != "reply-to-qq" || r2 != 7 || len(a.args) != 2 {
				t.Errorf("EmitAck answer %v, %v", a.args, a.err)
			}

			// EmitWithAck.
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			res, err := s.EmitWithAck(ctx, "question2", "zz")
			if err != nil || len(res) != 1 || res[0].String() != `{"q":"zz","ok":true}` {
				t.Errorf("EmitWithAck: %v, %v", res, err)
			}

			// A server ack that times out: the client never answers.
			start := time.Now()
			if err := s.Timeout(100*time.Millisecond).EmitAck("silent-ask", func(a core.Args, err error) { got <- answer{a, err} }, "v"); err != nil {
				t.Fatal(err)
			}
			a = recv(t, got, "the ack timeout")
			elapsed := time.Since(start)
			if !errors.Is(a.err, core.ErrAckTimeout) || a.err.Error() != "operation has timed out" {
				t.Errorf("timed-out ack: args %v, err %v; want ErrAckTimeout", a.args, a.err)
			}
			if elapsed < 90*time.Millisecond || elapsed > time.Second {
				t.Errorf("the 100ms ack timeout fired after %v", elapsed)
			}
			p.expect("silent-ask")

			// The same with EmitWithAck.
			start = time.Now()
			res, err = s.Timeout(100*time.Millisecond).EmitWithAck(ctx, "silent-ask", "w")
			elapsed = time.Since(start)
			if !errors.Is(err, core.ErrAckTimeout) {
				t.Errorf("timed-out EmitWithAck: %v, %v; want ErrAckTimeout", res, err)
			}
			if elapsed < 90*time.Millisecond || elapsed > time.Second {
				t.Errorf("the 100ms EmitWithAck timeout fired after %v", elapsed)
			}

			_ = s.Emit("finish")
			p.expect("end")
		})
	}
}

// Scenario 3: binary nested in objects and arrays, both ways, in events and
// acks.
func TestInteropBinary(t *testing.T) {
	requireNode(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := make([]byte, 100000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	type upArg struct {
		Name   string `json:"name"`
		Data   []byte `json:"data"`
		Nested struct {
			Inner []byte   `json:"inner"`
			List  [][]byte `json:"list"`
		} `json:"nested"`
	}
	type upResult struct {
		a   upArg
		m   map[string]any
		n   int
		err error
	}
	for _, tr := range bothTransports {
		t.Run(tr, func(t *testing.T) {
			rec := newRecorder()
			ups := make(chan upResult, 1)
			e := newEnv(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
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
			p := e.startNode("binary", map[string]any{"client": clientOpts(tr)})
			s := recv(t, rec.conns, "the connection")

			// Client to server.
			r := recv(t, ups, "up")
			if r.err != nil {
				t.Fatalf("bind up: %v", r.err)
			}
			if r.n != 2 || r.a.Name != "first" || !bytes.Equal(r.a.Data, all) || !bytes.Equal(r.a.Nested.Inner, []byte{1, 2, 3}) ||
				len(r.a.Nested.List) != 2 || !bytes.Equal(r.a.Nested.List[0], []byte{4}) || len(r.a.Nested.List[1]) != 0 {
				t.Errorf("up arg 0 bound to %+v", r.a)
			}
			wantM := map[string]any{
				"a": []byte{0xde, 0xad},
				"b": []any{[]byte{0xbe, 0xef}, "s", 2.0},
				"c": map[string]any{"d": big},
			}
			if !reflect.DeepEqual(r.m, wantM) {
				t.Errorf("up arg 1 bound to a map: %s, want %s", short(r.m), short(wantM))
			}
			var upAck struct{ Args []any }
			p.expect("up-ack").Decode(t, &upAck)
			wantAck := []any{bin([]byte("answer:question")), map[string]any{"bin": bin([]byte{1, 2}), "s": "t"}}
			if !reflect.DeepEqual(upAck.Args, wantAck) {
				t.Errorf("client got the binary ack %v, want %v", upAck.Args, wantAck)
			}

			// Server to client.
			type downArg struct {
				Data   []byte         `json:"data"`
				Nested map[string]any `json:"nested"`
				List   []any          `json:"list"`
			}
			err := s.Emit("bin", downArg{
				Data:   all,
				Nested: map[string]any{"x": []byte{1, 2, 3}, "empty": []byte{}, "n": 1},
				List:   []any{[]byte{4, 5}, "s", map[string]any{"deep": []byte{6}}},
			}, []byte{7, 7}, "plain")
			if err != nil {
				t.Fatal(err)
			}
			var down struct{ Args []any }
			p.expect("bin").Decode(t, &down)
			wantDown := []any{
				map[string]any{
					"data":   bin(all),
					"nested": map[string]any{"x": bin([]byte{1, 2, 3}), "empty": bin([]byte{}), "n": 1.0},
					"list":   []any{bin([]byte{4, 5}), "s", map[string]any{"deep": bin([]byte{6})}},
				},
				bin([]byte{7, 7}),
				"plain",
			}
			if !reflect.DeepEqual(down.Args, wantDown) {
				t.Errorf("client got %v,\nwant %v", down.Args, wantDown)
			}

			// Server to client with a binary answer.
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			res, err := s.EmitWithAck(ctx, "bin-ask", map[string]any{"q": []byte{0, 1}})
			if err != nil {
				t.Fatal(err)
			}
			var askSeen struct{ V any }
			p.expect("bin-ask").Decode(t, &askSeen)
			if want := map[string]any{"q": bin([]byte{0, 1})}; !reflect.DeepEqual(askSeen.V, want) {
				t.Errorf("client got bin-ask %v, want %v", askSeen.V, want)
			}
			var am map[string]any
			if len(res) != 1 || res[0].Bind(&am) != nil {
				t.Fatalf("bin-ask answer %v", res)
			}
			if want := map[string]any{"reply": []byte{9, 8, 7}, "list": []any{[]byte("ack"), 1.0}}; !reflect.DeepEqual(am, want) {
				t.Errorf("bin-ask answer bound to %v, want %v", am, want)
			}
			_ = s.Emit("finish")
			p.expect("end")
		})
	}
}

// bin is how the scenario script describes a Buffer.
func bin(b []byte) map[string]any {
	return map[string]any{"$bin": hex.EncodeToString(b), "buffer": true}
}

// short prints v with long byte slices cut.
func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// Scenario 4: the main namespace and a custom one on one Manager (one
// Engine.IO session), and a dynamic namespace.
func TestInteropNamespaces(t *testing.T) {
	requireNode(t)
	for _, tr := range bothTransports {
		t.Run(tr, func(t *testing.T) {
			rec := newRecorder()
			dyn := make(chan *core.Socket, 4)
			var parent *core.ParentNamespace
			e := newEnv(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
				rec.attach(srv.Of("/"))
				rec.attach(srv.Of("/admin"))
				parent = srv.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))
				parent.OnConnection(func(s *core.Socket) {
					_ = s.Emit("welcome", s.Namespace().Name())
					dyn <- s
				})
			})
			p := e.startNode("namespaces", map[string]any{"client": clientOpts(tr)})
			var c struct {
				SameManager      bool
				EngineID         string
				Root, Admin, Dyn string
			}
			p.expect("connected").Decode(t, &c)
			if !c.SameManager {
				t.Error("the client made more than one Manager")
			}
			socks := map[string]*core.Socket{}
			for range 2 {
				s := recv(t, rec.conns, "a connection")
				socks[s.Namespace().Name()] = s
			}
			root, admin := socks["/"], socks["/admin"]
			if root == nil || admin == nil {
				t.Fatalf("connections on %v", socks)
			}
			ds := recv(t, dyn, "the dynamic namespace connection")
			if root.ID() != c.Root || admin.ID() != c.Admin || ds.ID() != c.Dyn {
				t.Errorf("socket ids: client %s %s %s, server %s %s %s", c.Root, c.Admin, c.Dyn, root.ID(), admin.ID(), ds.ID())
			}
			for _, s := range []*core.Socket{root, admin, ds} {
				if s.Conn().SID() != c.EngineID {
					t.Errorf("socket of %s on session %s, want the one session %s", s.Namespace().Name(), s.Conn().SID(), c.EngineID)
				}
			}
			if n := e.srv.ConnCount(); n != 1 {
				t.Errorf("%d Engine.IO sessions, want 1", n)
			}
			var w struct{ Name string }
			p.expect("welcome").Decode(t, &w)
			if w.Name != "/dyn-42" || ds.Namespace().Name() != "/dyn-42" {
				t.Errorf("dynamic namespace %q (server %q), want /dyn-42", w.Name, ds.Namespace().Name())
			}
			var bad struct{ Message string }
			p.expect("bad").Decode(t, &bad)
			if bad.Message != "Invalid namespace" {
				t.Errorf("connect to /dyn-x: %q, want \"Invalid namespace\"", bad.Message)
			}
			var names []string
			for _, n := range parent.Children() {
				names = append(names, n.Name())
			}
			if !slices.Equal(names, []string{"/dyn-42"}) {
				t.Errorf("dynamic children %v, want [/dyn-42]", names)
			}
			_ = root.Emit("finish")
			p.expect("end")
			for range 2 {
				if d := recv(t, rec.discs, "a disconnect"); d.reason != "transport close" {
					t.Errorf("%s disconnected with %q, want \"transport close\"", d.nsp, d.reason)
				}
			}
		})
	}
}

// Scenario 5: rooms and exceptions.
func TestInteropRooms(t *testing.T) {
	requireNode(t)
	type hello struct {
		name string
		s    *core.Socket
	}
	hellos := make(chan hello, 3)
	var nsp *core.Namespace
	e := newEnv(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
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
	p := e.startNode("rooms", map[string]any{"client": clientOpts("websocket")})
	socks := map[string]*core.Socket{}
	for range 3 {
		h := recv(t, hellos, "hello")
		socks[h.name] = h.s
	}
	p.expect("ready")
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
	for range 3 {
		var g struct {
			Name string
			List []string
		}
		p.expect("got").Decode(t, &g)
		if !slices.Equal(g.List, want[g.Name]) {
			t.Errorf("client %s got %v, want %v", g.Name, g.List, want[g.Name])
		}
	}
	p.send("close", nil)
	p.expect("end")
}

// Scenario 6: a middleware refuses with a message and data; the auth
// payload reaches the middleware.
func TestInteropMiddleware(t *testing.T) {
	requireNode(t)
	type auth struct {
		Token string `json:"token"`
		N     int    `json:"n"`
	}
	auths := make(chan auth, 4)
	rec := newRecorder()
	e := newEnv(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
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
	p := e.startNode("auth", map[string]any{"client": clientOpts("websocket")})
	var refused struct {
		Message string
		Data    map[string]any
	}
	p.expect("refused").Decode(t, &refused)
	if refused.Message != "not authorized" || !reflect.DeepEqual(refused.Data, map[string]any{"code": 42.0}) {
		t.Errorf("connect_error message %q data %v, want \"not authorized\" {code:42}", refused.Message, refused.Data)
	}
	if a := recv(t, auths, "the first auth"); a != (auth{Token: "bad"}) {
		t.Errorf("middleware saw auth %+v, want token bad", a)
	}
	var acc struct{ ID string }
	p.expect("accepted").Decode(t, &acc)
	if a := recv(t, auths, "the second auth"); a != (auth{Token: "good", N: 1}) {
		t.Errorf("middleware saw auth %+v, want token good, n 1", a)
	}
	s := recv(t, rec.conns, "the accepted connection")
	if s.ID() != acc.ID {
		t.Errorf("accepted socket %s, client has %s", s.ID(), acc.ID)
	}
	p.expect("end")
	select {
	case s := <-rec.conns:
		t.Errorf("a refused client reached the connection handler: %s", s.ID())
	default:
	}
}

// Scenario 7a: a raw client that never answers pings is dropped with "ping
// timeout" within pingInterval + pingTimeout.
func TestHeartbeatServerDetects(t *testing.T) {
	const interval, timeout = 200 * time.Millisecond, 300 * time.Millisecond
	opts := httpadapter.Options{PingInterval: interval, PingTimeout: timeout}
	check := func(t *testing.T, d disconnect, start time.Time) {
		t.Helper()
		if d.reason != "ping timeout" {
			t.Errorf("disconnect reason %q, want \"ping timeout\"", d.reason)
		}
		// The session opened after start, so the close comes no earlier
		// than interval+timeout after it.
		if el := d.at.Sub(start); el < interval+timeout-20*time.Millisecond || el > interval+timeout+600*time.Millisecond {
			t.Errorf("ping timeout after %v, want about %v", el, interval+timeout)
		}
	}
	t.Run("websocket", func(t *testing.T) {
		rec := newRecorder()
		e := newEnv(t, opts, func(srv *httpadapter.Server) { rec.attach(srv.Of("/")) })
		start := time.Now()
		ws := e.dialWS(false)
		ws.connect("/")
		d := rec.disconnectOf(t, ws.sid)
		check(t, d, start)
		got, _ := ws.waitClosed()
		if len(got) == 0 || got[0].text != "2" {
			t.Errorf("frames before the close %v, want a ping", got)
		}
	})
	t.Run("polling", func(t *testing.T) {
		rec := newRecorder()
		e := newEnv(t, opts, func(srv *httpadapter.Server) { rec.attach(srv.Of("/")) })
		start := time.Now()
		sid := e.pollConnect()
		if a := e.get(sid); a.status != 200 || a.body != "2" {
			t.Errorf("poll: %d %q, want the ping", a.status, a.body)
		}
		// Never answered: the next poll is released by the close.
		if a := e.get(sid); a.status != 200 || a.body != "1" {
			t.Errorf("poll: %d %q, want the close packet", a.status, a.body)
		}
		check(t, rec.disconnectOf(t, sid), start)
	})
}

// Scenario 7b: the client detects a server whose pings stop: the TCP
// connection goes through a forwarder that the test freezes.
func TestHeartbeatClientDetects(t *testing.T) {
	requireNode(t)
	const interval, timeout = 200 * time.Millisecond, 300 * time.Millisecond
	rec := newRecorder()
	e := newEnv(t, httpadapter.Options{PingInterval: interval, PingTimeout: timeout}, func(srv *httpadapter.Server) {
		rec.attach(srv.Of("/"))
	})
	px := newProxy(t, e.hs.Listener.Addr().String())
	e.h.addExtra(px.close)
	p := e.h.startNode("http://"+px.addr(), "heartbeat", map[string]any{"client": clientOpts("websocket")})
	p.expect("connect")
	s := recv(t, rec.conns, "the connection")
	// Let a ping go through, then freeze.
	p.expect("ping")
	px.freeze()
	frozen := time.Now()
	var d struct {
		Reason, Desc string
		T            float64
	}
	p.expect("disconnect").Decode(t, &d)
	el := time.Since(frozen)
	if d.Reason != "ping timeout" {
		t.Errorf("client disconnect reason %q, want \"ping timeout\"", d.Reason)
	}
	if el > interval+timeout+700*time.Millisecond {
		t.Errorf("client noticed after %v, want about %v at most", el, interval+timeout)
	}
	sd := rec.disconnectOf(t, s.Conn().SID())
	if sd.reason != "ping timeout" {
		t.Errorf("server disconnect reason %q, want \"ping timeout\"", sd.reason)
	}
	if el := sd.at.Sub(frozen); el > interval+timeout+700*time.Millisecond {
		t.Errorf("server noticed after %v", el)
	}
	// Unfreeze by closing the forwarder, so the server need not wait for
	// a close handshake that can never come.
	px.close()
}

// Scenario 8: the server restarts on the same address; the client
// reconnects by itself and emits again.
func TestInteropRestart(t *testing.T) {
	requireNode(t)
	for _, tr := range bothTransports {
		t.Run(tr, func(t *testing.T) {
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
			setup := func(name string) func(*httpadapter.Server) {
				return func(srv *httpadapter.Server) {
					srv.Of("/").OnConnection(func(s *core.Socket) {
						s.On("hello", func(e *core.Event) {
							var n int
							_ = e.Bind(&n)
							hellos <- hello{name, n}
							_ = e.Ack(name, n)
						})
					})
				}
			}
			e1 := newHarness(t).newEnv(ln, httpadapter.Options{}, setup("one"))
			p := e1.startNode("restart", map[string]any{"client": clientOpts(tr)})
			if h := recv(t, hellos, "the first hello"); h != (hello{"one", 1}) {
				t.Errorf("hello %+v, want {one 1}", h)
			}
			var ack struct {
				N   int
				Ans []any
			}
			p.expect("hello-ack").Decode(t, &ack)
			if ack.N != 1 || !reflect.DeepEqual(ack.Ans, []any{"one", 1.0}) {
				t.Errorf("first hello ack %+v", ack)
			}

			e1.stop()
			var dis struct{ Reason string }
			p.expect("disconnect").Decode(t, &dis)
			// A WebSocket gets its close frame. A polling client gets the
			// close packet if a poll of its is pending at the close; if it
			// is between two polls, its session is dropped, as the
			// reference does, and its next poll fails.
			if ok := dis.Reason == "transport close" || (tr == "polling" && dis.Reason == "transport error"); !ok {
				t.Errorf("client disconnect reason %q at the server's close over %s", dis.Reason, tr)
			}

			ln2, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("listen again on %s: %v", addr, err)
			}
			e1.sibling(ln2, httpadapter.Options{}, setup("two"))
			p.expect("reconnect")
			if h := recv(t, hellos, "the hello after the restart"); h != (hello{"two", 2}) {
				t.Errorf("hello %+v, want {two 2}", h)
			}
			p.expect("hello-ack").Decode(t, &ack)
			if ack.N != 2 || !reflect.DeepEqual(ack.Ans, []any{"two", 2.0}) {
				t.Errorf("second hello ack %+v", ack)
			}
		})
	}
}

// Scenario 9: 200 clients in one process each get every broadcast exactly
// once, in order.
func TestInteropManyClients(t *testing.T) {
	requireNode(t)
	const clients, events = 200, 20
	var n atomic.Int32
	all := make(chan struct{})
	var nsp *core.Namespace
	e := newEnv(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
		nsp = srv.Of("/")
		nsp.OnConnection(func(s *core.Socket) {
			if n.Add(1) == clients {
				close(all)
			}
		})
	})
	p := e.startNode("many", map[string]any{"client": clientOpts("websocket"), "count": clients, "n": events})
	select {
	case <-all:
	case <-time.After(60 * time.Second):
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
	var r struct {
		Clients int
		Bad     []struct {
			I   int
			Got []int
		}
	}
	p.expectWithin("result", 60*time.Second).Decode(t, &r)
	if r.Clients != clients || len(r.Bad) != 0 {
		if len(r.Bad) > 5 {
			r.Bad = r.Bad[:5]
		}
		t.Errorf("%d clients; those that did not get 1..%d exactly once in order (first 5): %+v", r.Clients, events, r.Bad)
	}
	if got := n.Load(); got != clients {
		t.Errorf("%d connections, want %d", got, clients)
	}
}
