package transport_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/client"
	"github.com/sio-go/sio/httpadapter"
	"github.com/sio-go/sio/transport"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// mode is a way to carry a connection: polling, WebSocket, or polling
// upgraded to WebSocket.
type mode struct {
	name       string
	transports []string
	upgraded   bool
}

var modes = []mode{
	{"polling", []string{"polling"}, false},
	{"websocket", []string{"websocket"}, false},
	{"upgrade", []string{"polling", "websocket"}, true},
}

func forModes(t *testing.T, f func(t *testing.T, md mode)) {
	for _, md := range modes {
		t.Run(md.name, func(t *testing.T) { f(t, md) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newServer starts our server; setup declares its namespaces.
func newServer(t *testing.T, opts httpadapter.Options, setup func(*httpadapter.Server)) (*httpadapter.Server, *httptest.Server) {
	t.Helper()
	opts.Logger = quiet
	srv := httpadapter.New(opts)
	if setup != nil {
		setup(srv)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		ts.Close()
	})
	return srv, ts
}

// dial connects a client, closed at the end of the test, which then checks
// that none of its goroutines outlives Close.
func dial(t *testing.T, url string, md mode, opts *transport.ClientOptions) *transport.Client {
	t.Helper()
	var o transport.ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.Transports == nil {
		o.Transports = md.transports
	}
	o.Logger = quiet
	c, err := transport.Dial(ctxT(t), url, &o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		checkGoroutines(t)
	})
	if md.upgraded {
		waitFor(t, "the upgrade", func() bool { return c.Transport() == "websocket" })
	}
	return c
}

// checkGoroutines fails when a goroutine of a client is still running.
func checkGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			for _, marker := range []string{"transport.(*Client)", "transport.(*engineRun)", "transport.(*ClientSocket)", "transport.(*ClientEmitter)", "net/http.(*persistConn)"} {
				if strings.Contains(g, marker) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines outlive Close:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// offer sends v on ch unless ch is full: a handler that reports must not
// block the client's goroutines (or Close, in a cleanup) once the test has
// stopped reading.
func offer[T any](ch chan<- T, v T) {
	select {
	case ch <- v:
	default:
	}
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// echoServer acks every "echo" with its arguments, on "/" and "/admin"
// (whose middleware wants the token "secret").
func echoServer(srv *httpadapter.Server) {
	echo := func(s *core.Socket) {
		s.On("echo", func(e *core.Event) { _ = e.Ack(e.Args.Values()...) })
	}
	srv.Of("/").OnConnection(echo)
	admin := srv.Of("/admin")
	admin.Use(func(s *core.Socket) error {
		var auth struct {
			Token string `json:"token"`
		}
		_ = s.Handshake().Auth.Bind(&auth)
		if auth.Token != "secret" {
			return &core.ConnectError{Message: "not authorized", Data: map[string]string{"reason": "bad token"}}
		}
		return nil
	})
	admin.OnConnection(echo)
}

func TestClient_ConnectEmitAck(t *testing.T) {
	forModes(t, func(t *testing.T, md mode) {
		var serverID atomic.Value
		_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
			echoServer(srv)
			srv.Of("/").OnConnection(func(s *core.Socket) { serverID.Store(s.ID()) })
		})
		c := dial(t, ts.URL, md, nil)
		s := c.Socket("/", nil)
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		// The server's connection handlers run after its answer went out.
		waitFor(t, "the server's handler", func() bool { return serverID.Load() != nil })
		if s.ID() == "" || s.ID() != serverID.Load() {
			t.Fatalf("id %q, server %v", s.ID(), serverID.Load())
		}
		type item struct {
			N    int      `json:"n"`
			Tags []string `json:"tags"`
		}
		args, err := s.EmitWithAck(ctxT(t), "echo", 1, "two", item{3, []string{"a", "b"}})
		if err != nil {
			t.Fatal(err)
		}
		var one int
		var two string
		var three item
		if err := args.Bind(&one, &two, &three); err != nil || one != 1 || two != "two" || three.N != 3 || !slices.Equal(three.Tags, []string{"a", "b"}) {
			t.Fatalf("echo: %v %d %q %+v", err, one, two, three)
		}
		// EmitAck with a callback, and many emits in order.
		got := make(chan int, 100)
		for i := range 50 {
			if err := s.EmitAck("echo", func(a core.Args, err error) {
				var n int
				_ = a.Bind(&n)
				got <- n
			}, i); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 50 {
			if n := recv(t, got, "ack"); n != i {
				t.Fatalf("ack %d: %d", i, n)
			}
		}
		if md.upgraded && c.Transport() != "websocket" {
			t.Fatal("not upgraded")
		}
	})
}

func TestClient_ServerAsksClient(t *testing.T) {
	forModes(t, func(t *testing.T, md mode) {
		answers := make(chan string, 1)
		_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
			srv.Of("/").OnConnection(func(s *core.Socket) {
				s.On("start", func(e *core.Event) {
					_ = s.Timeout(5*time.Second).EmitAck("question", func(a core.Args, err error) {
						var ans string
						if err == nil {
							err = a.Bind(&ans)
						}
						if err != nil {
							ans = "error: " + err.Error()
						}
						answers <- ans
					}, "q", []byte{1, 2})
				})
			})
		})
		c := dial(t, ts.URL, md, nil)
		s := c.Socket("/", nil)
		s.On("question", func(e *transport.ClientEvent) {
			var q string
			var b []byte
			_ = e.Bind(&q, &b)
			_ = e.Ack("answer:" + q + ":" + string(rune('0'+len(b))))
		})
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		_ = s.Emit("start")
		if a := recv(t, answers, "the answer"); a != "answer:q:2" {
			t.Fatalf("answer %q", a)
		}
	})
}

func TestClient_Binary(t *testing.T) {
	forModes(t, func(t *testing.T, md mode) {
		_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
			srv.Of("/").OnConnection(func(s *core.Socket) {
				s.On("upload", func(e *core.Event) {
					var f struct {
						Name string `json:"name"`
						Data []byte `json:"data"`
					}
					_ = e.Bind(&f)
					_ = e.Ack(len(f.Data), f.Data)
					_ = s.Emit("download", map[string]any{"bytes": []byte{9, 8, 7}}, []byte("raw"))
				})
			})
		})
		c := dial(t, ts.URL, md, nil)
		s := c.Socket("/", nil)
		type download struct {
			Bytes []byte `json:"bytes"`
		}
		downloads := make(chan [2][]byte, 1)
		s.On("download", func(e *transport.ClientEvent) {
			var d download
			var raw []byte
			_ = e.Bind(&d, &raw)
			downloads <- [2][]byte{d.Bytes, raw}
		})
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 100_000)
		for i := range data {
			data[i] = byte(i * 7)
		}
		args, err := s.EmitWithAck(ctxT(t), "upload", map[string]any{"name": "f", "data": data})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var back []byte
		if err := args.Bind(&n, &back); err != nil || n != len(data) || !slices.Equal(back, data) {
			t.Fatalf("upload ack: %v %d %d", err, n, len(back))
		}
		d := recv(t, downloads, "download")
		if !slices.Equal(d[0], []byte{9, 8, 7}) || string(d[1]) != "raw" {
			t.Fatalf("download %v", d)
		}
	})
}

func TestClient_NamespacesWithAuth(t *testing.T) {
	forModes(t, func(t *testing.T, md mode) {
		_, ts := newServer(t, httpadapter.Options{}, echoServer)
		c := dial(t, ts.URL, md, nil)
		main := c.Socket("/", nil)
		if err := main.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		admin := c.Socket("/admin", map[string]string{"token": "wrong"})
		var connErrs atomic.Int32
		admin.OnConnectError(func(error) { connErrs.Add(1) })
		err := admin.Connect(ctxT(t))
		var ce *client.ConnectError
		if !errors.As(err, &ce) || ce.Message != "not authorized" {
			t.Fatalf("refusal: %v", err)
		}
		var data struct {
			Reason string `json:"reason"`
		}
		if err := ce.Data.Bind(&data); err != nil || data.Reason != "bad token" {
			t.Fatalf("refusal data %+v %v", data, err)
		}
		if admin.Active() || connErrs.Load() != 1 {
			t.Fatal("refused socket still active")
		}
		if c.Socket("/admin", map[string]string{"token": "secret"}) != admin {
			t.Fatal("a second Socket for the namespace is another socket")
		}
		if err := admin.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		args, err := admin.EmitWithAck(ctxT(t), "echo", "in admin")
		if err != nil || len(args) != 1 || args[0].String() != `"in admin"` {
			t.Fatalf("admin echo %v %v", args, err)
		}
		if !main.Connected() {
			t.Fatal("the refusal disconnected /")
		}
		if err := c.Socket("/nope", nil).Connect(ctxT(t)); !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
			t.Fatalf("invalid namespace: %v", err)
		}
		if bad := c.Socket("/x", 42); bad.Connect(ctxT(t)) == nil {
			t.Fatal("a non-object auth was accepted")
		}
	})
}

func TestClient_Disconnects(t *testing.T) {
	forModes(t, func(t *testing.T, md mode) {
		serverReasons := make(chan string, 4)
		kick := make(chan *core.Socket, 1)
		_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
			for _, nsp := range []string{"/", "/a"} {
				srv.Of(nsp).OnConnection(func(s *core.Socket) {
					s.OnDisconnect(func(r string) { offer(serverReasons, nsp+" "+r) })
					s.On("kick me", func(*core.Event) { kick <- s })
				})
			}
		})
		c := dial(t, ts.URL, md, nil)
		s := c.Socket("/", nil)
		a := c.Socket("/a", nil)
		reasons := make(chan string, 4)
		s.OnDisconnect(func(r string) { offer(reasons, "/ "+r) })
		a.OnDisconnect(func(r string) { offer(reasons, "/a "+r) })
		for _, x := range []*transport.ClientSocket{s, a} {
			if err := x.Connect(ctxT(t)); err != nil {
				t.Fatal(err)
			}
		}
		// The server disconnects /a: no reconnection for it.
		_ = a.Emit("kick me")
		recv(t, kick, "the kick").Disconnect(false)
		if r := recv(t, reasons, "the disconnect"); r != "/a io server disconnect" {
			t.Fatalf("reason %q", r)
		}
		if r := recv(t, serverReasons, "the server's reason"); r != "/a server namespace disconnect" {
			t.Fatalf("server reason %q", r)
		}
		if a.Active() || !s.Connected() {
			t.Fatal("states after the server disconnect")
		}
		// The client disconnects /: the last socket, so the session ends.
		s.Disconnect()
		if r := recv(t, reasons, "the disconnect"); r != "/ io client disconnect" {
			t.Fatalf("reason %q", r)
		}
		if r := recv(t, serverReasons, "the server's reason"); r != "/ client namespace disconnect" {
			t.Fatalf("server reason %q", r)
		}
		waitFor(t, "the session to end", func() bool { return !c.Connected() })
		// Connect starts over.
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	})
}

// The last socket's DISCONNECT reaches the server before the session ends,
// however the leave falls against the writer's wake-ups: a writer that had
// just found nothing to write must still write what the close queued. Each
// round joins, then leaves at once, as the writer wakes for the CONNECT
// answer.
func TestClient_DisconnectFlushes(t *testing.T) {
	const rounds = 40
	forModes(t, func(t *testing.T, md mode) {
		serverReasons := make(chan string, rounds)
		_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
			srv.Of("/").OnConnection(func(s *core.Socket) {
				s.OnDisconnect(func(r string) { offer(serverReasons, r) })
			})
		})
		c := dial(t, ts.URL, md, nil)
		s := c.Socket("/", nil)
		for i := range rounds {
			if err := s.Connect(ctxT(t)); err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			s.Disconnect()
			if r := recv(t, serverReasons, "the server's reason"); r != "client namespace disconnect" {
				t.Fatalf("round %d: server reason %q", i, r)
			}
			waitFor(t, "the session to end", func() bool { return !c.Connected() })
		}
	})
}

func TestClient_AckTimeoutAndClose(t *testing.T) {
	_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
		srv.Of("/").OnConnection(func(s *core.Socket) { s.On("ignore", func(*core.Event) {}) })
	})
	c := dial(t, ts.URL, modes[1], &transport.ClientOptions{AckTimeout: 150 * time.Millisecond})
	s := c.Socket("/", nil)
	if err := s.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := s.Timeout(100*time.Millisecond).EmitWithAck(ctxT(t), "ignore")
	if !errors.Is(err, client.ErrAckTimeout) || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	_, err = s.EmitWithAck(ctxT(t), "ignore") // the default AckTimeout
	if !errors.Is(err, client.ErrAckTimeout) {
		t.Fatalf("default ack timeout: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = s.Timeout(0).EmitWithAck(ctx, "ignore")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ctx: %v", err)
	}
	// Close fails what is pending.
	pending := make(chan error, 1)
	_ = s.Timeout(0).EmitAck("ignore", func(_ core.Args, err error) { pending <- err })
	_ = c.Close()
	if err := recv(t, pending, "the pending ack"); !errors.Is(err, client.ErrDisconnected) {
		t.Fatalf("pending ack: %v", err)
	}
	if err := s.Emit("x"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("emit after close: %v", err)
	}
}

func TestClient_Reconnect(t *testing.T) {
	for _, md := range modes[:2] {
		t.Run(md.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			var auths atomic.Int32
			start := func(l net.Listener) (*httpadapter.Server, *httptest.Server) {
				srv := httpadapter.New(httpadapter.Options{Logger: quiet})
				echoServer(srv)
				srv.Of("/admin").Use(func(*core.Socket) error { auths.Add(1); return nil })
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
			srv1, ts1 := start(l)
			c := dial(t, "http://"+addr, md, &transport.ClientOptions{
				ReconnectionDelay:    20 * time.Millisecond,
				ReconnectionDelayMax: 100 * time.Millisecond,
			})
			s := c.Socket("/", nil)
			admin := c.Socket("/admin", map[string]string{"token": "secret"})
			connects := make(chan string, 8)
			reasons := make(chan string, 8)
			for _, x := range []*transport.ClientSocket{s, admin} {
				x.OnConnect(func() { connects <- x.Namespace() })
				x.OnDisconnect(func(r string) { offer(reasons, x.Namespace()+" "+r) })
				if err := x.Connect(ctxT(t)); err != nil {
					t.Fatal(err)
				}
			}
			recv(t, connects, "connect")
			recv(t, connects, "connect")
			var attempts atomic.Int32
			c.Manager().OnReconnectAttempt(func(int) { attempts.Add(1) })
			reconnected := make(chan int, 1)
			c.Manager().OnReconnect(func(n int) { reconnected <- n })

			stop(srv1, ts1)
			// The server's close reaches a pending poll or the WebSocket
			// ("transport close"); a poll that starts after it is refused
			// ("transport error"), as with the reference.
			got := []string{recv(t, reasons, "a disconnect"), recv(t, reasons, "a disconnect")}
			slices.Sort(got)
			for _, want := range [][]string{
				{"/ transport close", "/admin transport close"},
				{"/ transport error", "/admin transport error"},
			} {
				if slices.Equal(got, want) {
					got = nil
				}
			}
			if got != nil {
				t.Fatalf("reasons %q", got)
			}
			waitFor(t, "failed attempts", func() bool { return attempts.Load() >= 2 })

			var l2 net.Listener
			waitFor(t, "the port", func() bool {
				l2, err = net.Listen("tcp", addr)
				return err == nil
			})
			srv2, ts2 := start(l2)
			defer stop(srv2, ts2)
			recv(t, reconnected, "the reconnection")
			got = []string{recv(t, connects, "a reconnect"), recv(t, connects, "a reconnect")}
			slices.Sort(got)
			if !slices.Equal(got, []string{"/", "/admin"}) || auths.Load() != 2 {
				t.Fatalf("rejoined %q, auths %d", got, auths.Load())
			}
			args, err := admin.EmitWithAck(ctxT(t), "echo", "again")
			if err != nil || len(args) != 1 {
				t.Fatalf("echo after the restart: %v %v", args, err)
			}
		})
	}
}

// silentServer is an Engine.IO server that connects the main namespace
// and then never pings: pingInterval 200ms, pingTimeout 200ms.
type silentServer struct {
	mu      sync.Mutex
	pending []string
	wake    chan struct{}
}

const silentOpen = `0{"sid":"silent","upgrades":[],"pingInterval":200,"pingTimeout":200,"maxPayload":1000000}`

func (s *silentServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("transport") == "websocket" {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		_ = ws.Write(ctx, websocket.MessageText, []byte(silentOpen))
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			if string(msg) == "40" {
				_ = ws.Write(ctx, websocket.MessageText, []byte(`40{"sid":"x"}`))
			}
		}
	}
	switch {
	case q.Get("sid") == "":
		_, _ = io.WriteString(w, silentOpen)
	case r.Method == http.MethodPost:
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), "40") {
			s.mu.Lock()
			s.pending = append(s.pending, `40{"sid":"x"}`)
			s.mu.Unlock()
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
		_, _ = io.WriteString(w, "ok")
	default:
		for {
			s.mu.Lock()
			out := s.pending
			s.pending = nil
			s.mu.Unlock()
			if len(out) > 0 {
				_, _ = io.WriteString(w, strings.Join(out, "\x1e"))
				return
			}
			select {
			case <-s.wake:
			case <-r.Context().Done():
				return
			}
		}
	}
}

func TestClient_PingTimeout(t *testing.T) {
	for _, md := range modes[:2] {
		t.Run(md.name, func(t *testing.T) {
			ts := httptest.NewServer(&silentServer{wake: make(chan struct{}, 1)})
			defer ts.Close()
			c := dial(t, ts.URL, md, &transport.ClientOptions{Reconnection: transport.Bool(false)})
			s := c.Socket("/", nil)
			reasons := make(chan string, 1)
			s.OnDisconnect(func(r string) { offer(reasons, r) })
			start := time.Now()
			if err := s.Connect(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if r := recv(t, reasons, "the disconnect"); r != client.ReasonPingTimeout {
				t.Fatalf("reason %q", r)
			}
			if d := time.Since(start); d < 350*time.Millisecond || d > 5*time.Second {
				t.Fatalf("declared dead after %v", d)
			}
		})
	}
}

func TestClient_HeartbeatKeepsConnection(t *testing.T) {
	forModes(t, func(t *testing.T, md mode) {
		_, ts := newServer(t, httpadapter.Options{PingInterval: 100 * time.Millisecond, PingTimeout: 400 * time.Millisecond}, echoServer)
		c := dial(t, ts.URL, md, nil)
		s := c.Socket("/", nil)
		reasons := make(chan string, 1)
		s.OnDisconnect(func(r string) { offer(reasons, r) })
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-reasons:
			t.Fatalf("disconnected: %s", r)
		case <-time.After(500 * time.Millisecond):
		}
		if _, err := s.EmitWithAck(ctxT(t), "echo"); err != nil {
			select {
			case r := <-reasons:
				t.Fatalf("%v: disconnected: %s", err, r)
			default:
				t.Fatal(err)
			}
		}
	})
}

func TestClient_MaxPayload(t *testing.T) {
	for _, md := range modes[:2] {
		t.Run(md.name, func(t *testing.T) {
			_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
				srv.Of("/").OnConnection(func(s *core.Socket) {
					s.On("big", func(*core.Event) { _ = s.Emit("big", strings.Repeat("x", 5000)) })
				})
			})
			c := dial(t, ts.URL, md, &transport.ClientOptions{MaxPayload: 2000, Reconnection: transport.Bool(false)})
			s := c.Socket("/", nil)
			reasons := make(chan string, 1)
			s.OnDisconnect(func(r string) { offer(reasons, r) })
			if err := s.Connect(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			_ = s.Emit("big")
			if r := recv(t, reasons, "the disconnect"); r != client.ReasonTransportError {
				t.Fatalf("reason %q", r)
			}
		})
	}
}

func TestClient_DialErrors(t *testing.T) {
	for _, u := range []string{"ftp://x", "http://", "http://host/ns", "://bad"} {
		if _, err := transport.NewClient(u, nil); err == nil {
			t.Errorf("NewClient(%q) accepted", u)
		}
	}
	if _, err := transport.NewClient("http://x", &transport.ClientOptions{Transports: []string{"carrier-pigeon"}}); err == nil {
		t.Error("unknown transport accepted")
	}
	// Nothing listens.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	for _, md := range modes[:2] {
		_, err := transport.Dial(ctxT(t), "http://"+addr, &transport.ClientOptions{Transports: md.transports, Logger: quiet})
		var cf *client.ConnectFailure
		if !errors.As(err, &cf) || cf.Reason != client.ReasonTransportError {
			t.Errorf("%s: refused: %v", md.name, err)
		}
	}
	// The server refuses the handshake.
	_, ts := newServer(t, httpadapter.Options{AllowRequest: func(*http.Request) error { return errors.New("go away") }}, nil)
	for _, md := range modes[:2] {
		_, err := transport.Dial(ctxT(t), ts.URL, &transport.ClientOptions{Transports: md.transports, Logger: quiet})
		var he *transport.HTTPError
		if !errors.As(err, &he) || he.Message != "go away" {
			t.Errorf("%s: refused handshake: %v", md.name, err)
		}
	}
	checkGoroutines(t)
}

func TestClient_ConnectTimeout(t *testing.T) {
	// A server that accepts the request and never answers.
	block := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(block)
	start := time.Now()
	_, err := transport.Dial(ctxT(t), ts.URL, &transport.ClientOptions{Timeout: 200 * time.Millisecond, Logger: quiet})
	if !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	checkGoroutines(t)
}

func TestClient_UpgradeUnderLoad(t *testing.T) {
	const n = 300
	srvGot := make(chan int, n)
	_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
		srv.Of("/").OnConnection(func(s *core.Socket) {
			s.On("n", func(e *core.Event) {
				var i int
				_ = e.Bind(&i)
				srvGot <- i
			})
			go func() {
				for i := range n {
					_ = s.Emit("n", i, []byte{byte(i)})
				}
			}()
		})
	})
	// The upgrade starts as soon as the handshake arrives: the traffic
	// below runs across it.
	c := dial(t, ts.URL, mode{"upgrade", []string{"polling", "websocket"}, false}, nil)
	s := c.Socket("/", nil)
	cliGot := make(chan int, n)
	s.On("n", func(e *transport.ClientEvent) {
		var i int
		var b []byte
		_ = e.Bind(&i, &b)
		if len(b) != 1 || b[0] != byte(i) {
			t.Errorf("event %d: attachment %v", i, b)
		}
		// A reconnection would bring another n: the test fails on it
		// rather than block the client.
		offer(cliGot, i)
	})
	lost := make(chan string, 4)
	s.OnDisconnect(func(r string) { offer(lost, r) })
	t.Cleanup(func() {
		if t.Failed() {
			for len(lost) > 0 {
				t.Logf("the socket was disconnected: %s", <-lost)
			}
		}
	})
	if err := s.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.Emit("n", i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if got := recv(t, srvGot, "a client event"); got != i {
			t.Fatalf("server got %d, want %d", got, i)
		}
		if got := recv(t, cliGot, "a server event"); got != i {
			t.Fatalf("client got %d, want %d", got, i)
		}
	}
	waitFor(t, "the upgrade", func() bool { return c.Transport() == "websocket" })
	select {
	case x := <-srvGot:
		t.Fatalf("server got an extra %d", x)
	case x := <-cliGot:
		t.Fatalf("client got an extra %d", x)
	case <-time.After(50 * time.Millisecond):
	}
}

// A handler that asks its client and waits (EmitWithAck), run by the
// WebSocket reader itself, says so: the reader writes the question and
// reads the answer on at once. With the watch held, the answer could not
// come otherwise.
func TestClient_WaitingTurnHandsOff(t *testing.T) {
	transport.HoldInlineRuns(t.Cleanup)
	md := modes[1] // websocket
	_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
		srv.Of("/").OnConnection(func(s *core.Socket) {
			s.On("start", func(e *core.Event) {
				a, err := s.EmitWithAck(context.Background(), "question", "q")
				if err != nil {
					_ = e.Ack("error: " + err.Error())
					return
				}
				_ = e.Ack(a.Values()...)
			})
		})
	})
	c := dial(t, ts.URL, md, nil)
	s := c.Socket("/", nil)
	s.On("question", func(e *transport.ClientEvent) {
		var q string
		_ = e.Bind(&q)
		_ = e.Ack("answer:" + q)
	})
	if err := s.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		a, err := s.EmitWithAck(ctxT(t), "start")
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		var ans string
		if err := a.Bind(&ans); err != nil || ans != "answer:q" {
			t.Fatalf("round %d: %q, %v", i, ans, err)
		}
	}
}

// A turn handed off because it waited (EmitWithAck) may end while the new
// reader runs a turn of its own that blocks: that one must still be handed
// off when it lasts, so that the connection's other sockets are read. Here
// /a's handler returns only once /b's blocking handler has begun; /a's next
// event must then be answered while /b's still blocks.
func TestClient_HandedOffTurnEndsDuringNextRun(t *testing.T) {
	md := modes[1] // websocket
	bBegan, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	_, ts := newServer(t, httpadapter.Options{}, func(srv *httpadapter.Server) {
		srv.Of("/a").OnConnection(func(s *core.Socket) {
			s.On("ask", func(e *core.Event) {
				a, err := s.EmitWithAck(context.Background(), "question")
				<-bBegan
				if err != nil {
					_ = e.Ack("error: " + err.Error())
					return
				}
				_ = e.Ack(a.Values()...)
			})
			s.On("ping", func(e *core.Event) { _ = e.Ack("pong") })
		})
		srv.Of("/b").OnConnection(func(s *core.Socket) {
			s.On("block", func(e *core.Event) {
				close(bBegan)
				<-release
				_ = e.Ack("released")
			})
		})
	})
	c := dial(t, ts.URL, md, nil)
	a, b := c.Socket("/a", nil), c.Socket("/b", nil)
	a.On("question", func(e *transport.ClientEvent) {
		_ = e.Ack("answer")
		// Right after the answer, on the same connection: /b's turn, which
		// the new reader runs itself.
		_ = b.EmitAck("block", func(core.Args, error) {})
	})
	for _, s := range []*transport.ClientSocket{a, b} {
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.EmitWithAck(ctxT(t), "ask"); err != nil {
		t.Fatal(err)
	}
	// /b's handler still blocks: the ping is read and answered only if its
	// run was handed off.
	ans, err := a.EmitWithAck(ctxT(t), "ping")
	if err != nil {
		t.Fatalf("ping while /b blocks: %v", err)
	}
	var pong string
	if err := ans.Bind(&pong); err != nil || pong != "pong" {
		t.Fatalf("ping: %q, %v", pong, err)
	}
	close(release)
}
