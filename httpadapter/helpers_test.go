package httpadapter_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
	"github.com/sio-go/sio/transport/peertest"
)

// nodeDir holds the scenario scripts and the installed client.
const nodeDir = "testdata/node"

// waitFor is how long a test waits for an event before failing.
const waitFor = 10 * time.Second

// requireNode returns the path of node once the pinned client packages
// are installed (npm ci on first use), or skips the test when node or npm
// is missing; with SIO_REQUIRE_EXTERNAL=1 it fails the test instead.
func requireNode(t testing.TB) string {
	t.Helper()
	return peertest.NodeModules(t, nodeDir)
}

// ---------------------------------------------------------------------------
// The server under test.

// harness owns what one test starts and tears it down in this order: the
// servers (srv.Close with every client still connected, then the HTTP
// server), then the clients (scenario processes, raw connections), then the
// rest, then the goroutine leak check.
type harness struct {
	t       *testing.T
	mu      sync.Mutex
	envs    []*env
	clients []func()
	extra   []func()
}

func newHarness(t *testing.T) *harness {
	checkLeaks(t) // registered first: runs last
	h := &harness{t: t}
	t.Cleanup(h.teardown)
	return h
}

func (h *harness) teardown() {
	h.mu.Lock()
	envs, clients, extra := h.envs, h.clients, h.extra
	h.mu.Unlock()
	for _, e := range envs {
		e.stop()
	}
	for _, f := range clients {
		f()
	}
	for _, f := range extra {
		f()
	}
}

func (h *harness) addClient(f func()) {
	h.mu.Lock()
	h.clients = append(h.clients, f)
	h.mu.Unlock()
}

// addExtra registers f to run after the servers and clients are closed.
func (h *harness) addExtra(f func()) {
	h.mu.Lock()
	h.extra = append(h.extra, f)
	h.mu.Unlock()
}

// env is one Go server on a loopback port.
type env struct {
	t      *testing.T
	h      *harness
	srv    *httpadapter.Server
	hs     *httptest.Server
	base   string // http://127.0.0.1:port
	client *http.Client

	stopOnce sync.Once
}

// newEnv starts a server with opts on a new loopback port; setup declares
// its namespaces and handlers before the first request.
func newEnv(t *testing.T, opts httpadapter.Options, setup func(srv *httpadapter.Server)) *env {
	t.Helper()
	return newHarness(t).newEnv(nil, opts, setup)
}

// sibling starts another server of the same test, on ln.
func (e *env) sibling(ln net.Listener, opts httpadapter.Options, setup func(srv *httpadapter.Server)) *env {
	e.t.Helper()
	return e.h.newEnv(ln, opts, setup)
}

// newEnv starts a server on ln (nil: a new loopback port).
func (h *harness) newEnv(ln net.Listener, opts httpadapter.Options, setup func(srv *httpadapter.Server)) *env {
	srv := httpadapter.New(opts)
	if setup != nil {
		setup(srv)
	}
	hs := httptest.NewUnstartedServer(srv)
	if ln != nil {
		hs.Listener.Close()
		hs.Listener = ln
	}
	hs.Start()
	e := &env{
		t:      h.t,
		h:      h,
		srv:    srv,
		hs:     hs,
		base:   hs.URL,
		client: &http.Client{Transport: &http.Transport{}, Timeout: waitFor},
	}
	h.mu.Lock()
	h.envs = append(h.envs, e)
	h.mu.Unlock()
	return e
}

// stop closes the server: srv.Close, which must end every session in
// time, then the HTTP server. Idempotent.
func (e *env) stop() {
	e.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		if err := e.srv.Close(ctx); err != nil {
			e.t.Errorf("srv.Close: %v (after %v)", err, time.Since(start))
		} else if d := time.Since(start); d > 3*time.Second {
			e.t.Errorf("srv.Close took %v with its clients connected; want well under 3s", d)
		}
		e.hs.Close()
		e.client.CloseIdleConnections()
	})
}

// url is the address of the Engine.IO endpoint with the given query.
func (e *env) url(query string) string { return e.base + "/socket.io/?" + query }

// recorder collects what the server's handlers see, as channels.
type recorder struct {
	conns chan *core.Socket
	discs chan disconnect
}

type disconnect struct {
	sid    string // Engine.IO session id
	id     string // socket id
	nsp    string
	reason string
	at     time.Time
}

func newRecorder() *recorder {
	return &recorder{conns: make(chan *core.Socket, 1024), discs: make(chan disconnect, 1024)}
}

// attach records the connections and disconnections of nsp and answers
// "echo" with its own arguments.
func (r *recorder) attach(nsp *core.Namespace) {
	nsp.OnConnection(func(s *core.Socket) {
		s.On("echo", func(e *core.Event) { _ = e.Ack(e.Args.Values()...) })
		s.OnDisconnect(func(reason string) {
			r.discs <- disconnect{sid: s.Conn().SID(), id: s.ID(), nsp: nsp.Name(), reason: reason, at: time.Now()}
		})
		r.conns <- s
	})
}

// recv waits for a value of ch.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// disconnectOf waits for the disconnect of the socket on session sid.
func (r *recorder) disconnectOf(t testing.TB, sid string) disconnect {
	t.Helper()
	deadline := time.After(waitFor)
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

// ---------------------------------------------------------------------------
// Scenario processes: the official client driven by testdata/node/scenario.js.

// nodeProc is a running scenario script; its stdout lines are events.
type nodeProc struct {
	t       testing.TB
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	events  chan nodeEvent
	stderr  *syncBuffer
	backlog []nodeEvent
	exited  chan struct{}
}

// nodeEvent is one line of the script's output.
type nodeEvent struct {
	Ev  string
	Raw json.RawMessage
}

// Decode decodes the event's fields into v.
func (ev nodeEvent) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(ev.Raw, v); err != nil {
		t.Fatalf("event %s: %v: %s", ev.Ev, err, ev.Raw)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startNode runs scenario against the server of e with the given options.
// The process ends, at the latest, when the test's servers are closed.
func (e *env) startNode(scenario string, opts any) *nodeProc {
	e.t.Helper()
	return e.h.startNode(e.base, scenario, opts)
}

// startNode runs scenario against the server at base.
func (h *harness) startNode(base, scenario string, opts any) *nodeProc {
	h.t.Helper()
	js, err := json.Marshal(opts)
	if err != nil {
		h.t.Fatal(err)
	}
	p := h.startScript(90*time.Second, "scenario.js", scenario, base, string(js))
	p.name = scenario
	return p
}

// startScript runs testdata/node/<script> with args; its stdout lines are
// events, as with startNode. It ends when the test's clients are closed.
func (h *harness) startScript(limit time.Duration, script string, args ...string) *nodeProc {
	t := h.t
	t.Helper()
	node := requireNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = nodeDir
	cmd.WaitDelay = 2 * time.Second
	p := &nodeProc{t: t, name: script, cmd: cmd, events: make(chan nodeEvent, 4096), stderr: new(syncBuffer), exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			var head struct{ Ev string }
			line := append([]byte(nil), sc.Bytes()...)
			if json.Unmarshal(line, &head) != nil {
				head.Ev = "(garbage)"
			}
			p.events <- nodeEvent{Ev: head.Ev, Raw: line}
		}
		close(p.events)
	}()
	waited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(waited)
		close(p.exited)
	}()
	h.addClient(func() {
		_ = p.stdin.Close()
		select {
		case <-waited:
		case <-time.After(3 * time.Second):
			cancel()
			<-waited
		}
		cancel()
		for range p.events {
		}
	})
	return p
}

// send writes a command to the script.
func (p *nodeProc) send(cmd string, fields map[string]any) {
	p.t.Helper()
	m := map[string]any{"cmd": cmd}
	for k, v := range fields {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("scenario %s: write command %s: %v", p.name, cmd, err)
	}
}

// expect waits for the next event named ev; events of other names are kept
// for later expects. A fatal event from the script fails the test.
func (p *nodeProc) expect(ev string) nodeEvent {
	p.t.Helper()
	return p.expectWithin(ev, waitFor)
}

func (p *nodeProc) expectWithin(ev string, d time.Duration) nodeEvent {
	p.t.Helper()
	for i, e := range p.backlog {
		if e.Ev == ev {
			p.backlog = append(p.backlog[:i:i], p.backlog[i+1:]...)
			return e
		}
	}
	deadline := time.After(d)
	for {
		select {
		case e, ok := <-p.events:
			if !ok {
				p.t.Fatalf("scenario %s exited before %q; stderr:\n%s\nevents so far: %s", p.name, ev, p.stderr.String(), p.seen())
			}
			if e.Ev == "fatal" {
				p.t.Fatalf("scenario %s failed: %s\nstderr:\n%s", p.name, e.Raw, p.stderr.String())
			}
			if e.Ev == ev {
				return e
			}
			p.backlog = append(p.backlog, e)
		case <-deadline:
			p.t.Fatalf("scenario %s: no %q within %v; events so far: %s\nstderr:\n%s", p.name, ev, d, p.seen(), p.stderr.String())
		}
	}
}

func (p *nodeProc) seen() string {
	var b strings.Builder
	for _, e := range p.backlog {
		b.Write(e.Raw)
		b.WriteByte(' ')
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Raw Engine.IO clients, written here to send what the official client
// never would.

// rawWS is an Engine.IO session over a raw WebSocket.
type rawWS struct {
	t       testing.TB
	c       *websocket.Conn
	sid     string
	open    map[string]any
	msgs    chan wsMsg
	closeCh chan struct{}
	err     error // why reading stopped; valid once closeCh is closed
	pong    bool  // answer pings
	nextAck int
}

type wsMsg struct {
	text   string
	binary bool
}

// dialWS opens a WebSocket session; with pong it answers the server's pings.
func (e *env) dialWS(pong bool) *rawWS {
	e.t.Helper()
	ws := e.dialWSQuery("EIO=4&transport=websocket", pong)
	m := ws.next()
	if m.binary || !strings.HasPrefix(m.text, "0{") {
		e.t.Fatalf("first frame %q, want the open packet", m.text)
	}
	if err := json.Unmarshal([]byte(m.text[1:]), &ws.open); err != nil {
		e.t.Fatal(err)
	}
	ws.sid, _ = ws.open["sid"].(string)
	return ws
}

// dialWSQuery opens a WebSocket with the given query and nothing read.
func (e *env) dialWSQuery(query string, pong bool) *rawWS {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.base, "http") + "/socket.io/?" + query
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: e.client})
	if err != nil {
		e.t.Fatalf("dial %s: %v", u, err)
	}
	c.SetReadLimit(16 << 20)
	ws := &rawWS{t: e.t, c: c, msgs: make(chan wsMsg, 1024), closeCh: make(chan struct{}), pong: pong}
	go ws.read()
	e.h.addClient(func() {
		_ = c.CloseNow()
		<-ws.closeCh
	})
	return ws
}

func (ws *rawWS) read() {
	defer close(ws.closeCh)
	defer close(ws.msgs)
	for {
		typ, b, err := ws.c.Read(context.Background())
		if err != nil {
			ws.err = err
			return
		}
		if ws.pong && typ == websocket.MessageText && string(b) == "2" {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			_ = ws.c.Write(ctx, websocket.MessageText, []byte("3"))
			cancel()
			continue
		}
		ws.msgs <- wsMsg{text: string(b), binary: typ == websocket.MessageBinary}
	}
}

// send writes a text frame.
func (ws *rawWS) send(s string) {
	ws.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := ws.c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		ws.t.Fatalf("ws write %q: %v", s, err)
	}
}

// sendBinary writes a binary frame.
func (ws *rawWS) sendBinary(b []byte) {
	ws.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := ws.c.Write(ctx, websocket.MessageBinary, b); err != nil {
		ws.t.Fatalf("ws write binary: %v", err)
	}
}

// next waits for the next frame.
func (ws *rawWS) next() wsMsg {
	ws.t.Helper()
	select {
	case m, ok := <-ws.msgs:
		if !ok {
			ws.t.Fatalf("websocket closed while waiting for a frame: %v", ws.err)
		}
		return m
	case <-time.After(waitFor):
		ws.t.Fatal("timed out waiting for a websocket frame")
	}
	return wsMsg{}
}

// nextText waits for the next text frame that is not a ping.
func (ws *rawWS) nextText() string {
	ws.t.Helper()
	for {
		m := ws.next()
		if !m.binary && m.text != "2" {
			return m.text
		}
	}
}

// waitClosed waits until the server closes the WebSocket and returns the
// frames received meanwhile and the close error.
func (ws *rawWS) waitClosed() ([]wsMsg, error) {
	ws.t.Helper()
	var got []wsMsg
	deadline := time.After(waitFor)
	for {
		select {
		case m, ok := <-ws.msgs:
			if !ok {
				return got, ws.err
			}
			got = append(got, m)
		case <-deadline:
			ws.t.Fatalf("websocket still open; got %v", got)
		}
	}
}

// connect joins namespace nsp ("" for the main one) and returns the socket id.
func (ws *rawWS) connect(nsp string) string {
	ws.t.Helper()
	prefix := "40"
	if nsp != "" && nsp != "/" {
		prefix += nsp + ","
	}
	ws.send(prefix)
	m := ws.nextText()
	if !strings.HasPrefix(m, prefix+"{") {
		ws.t.Fatalf("connect answer %q, want %s{...}", m, prefix)
	}
	var ans struct{ SID string }
	if err := json.Unmarshal([]byte(m[len(prefix):]), &ans); err != nil || ans.SID == "" {
		ws.t.Fatalf("connect answer %q: %v", m, err)
	}
	return ans.SID
}

// echo makes one emit with ack round trip on the main namespace: the
// server's "echo" handler answers with the arguments.
func (ws *rawWS) echo() {
	ws.t.Helper()
	ws.nextAck++
	id := ws.nextAck + 100
	payload := fmt.Sprintf(`["still-alive-%d",{"n":%d}]`, id, id)
	ws.send(fmt.Sprintf(`42%d["echo",%s`, id, payload[1:]))
	want := fmt.Sprintf("43%d%s", id, payload)
	for {
		m := ws.nextText()
		if m == want {
			return
		}
		if strings.HasPrefix(m, "43") {
			ws.t.Fatalf("echo answer %q, want %q", m, want)
		}
	}
}

// healthy connects a well-behaved client to the main namespace and checks
// one round trip; the bad-input tests check it again afterwards.
func (e *env) healthy() *rawWS {
	e.t.Helper()
	ws := e.dialWS(true)
	ws.connect("/")
	ws.echo()
	return ws
}

// ---------------------------------------------------------------------------
// Raw HTTP.

type httpAnswer struct {
	status int
	header http.Header
	body   string
}

// do sends one request to the Engine.IO endpoint.
func (e *env) do(method, query, body string, header map[string]string) httpAnswer {
	e.t.Helper()
	a, err := e.doErr(context.Background(), method, query, body, header)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, query, err)
	}
	return a
}

func (e *env) doErr(ctx context.Context, method, query, body string, header map[string]string) (httpAnswer, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.url(query), rd)
	if err != nil {
		return httpAnswer{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := e.client.Do(req)
	if err != nil {
		return httpAnswer{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return httpAnswer{}, err
	}
	return httpAnswer{status: res.StatusCode, header: res.Header, body: string(b)}, nil
}

// pollOpen makes a polling handshake and returns the session id.
func (e *env) pollOpen() string {
	e.t.Helper()
	a := e.do("GET", "EIO=4&transport=polling", "", nil)
	if a.status != 200 || !strings.HasPrefix(a.body, "0{") {
		e.t.Fatalf("handshake: %d %q", a.status, a.body)
	}
	var hs struct{ SID string }
	if err := json.Unmarshal([]byte(a.body[1:]), &hs); err != nil || hs.SID == "" {
		e.t.Fatalf("handshake body %q: %v", a.body, err)
	}
	return hs.SID
}

func pollQuery(sid string) string { return "EIO=4&transport=polling&sid=" + sid }

// post sends a polling body and expects "ok".
func (e *env) post(sid, body string) {
	e.t.Helper()
	a := e.do("POST", pollQuery(sid), body, map[string]string{"Content-Type": "text/plain;charset=UTF-8"})
	if a.status != 200 || a.body != "ok" {
		e.t.Fatalf("POST %q: %d %q, want 200 ok", body, a.status, a.body)
	}
}

// get polls once.
func (e *env) get(sid string) httpAnswer {
	e.t.Helper()
	return e.do("GET", pollQuery(sid), "", nil)
}

// pollConnect opens a polling session and joins the main namespace.
func (e *env) pollConnect() string {
	e.t.Helper()
	sid := e.pollOpen()
	e.post(sid, "40")
	a := e.get(sid)
	if a.status != 200 || !strings.HasPrefix(a.body, `40{"sid":"`) {
		e.t.Fatalf("connect answer: %d %q", a.status, a.body)
	}
	return sid
}

// pendingGet starts a poll in the background; its answer comes on the
// returned channel. It waits until the server holds the request.
func (e *env) pendingGet(sid string) <-chan httpAnswer {
	e.t.Helper()
	ch := make(chan httpAnswer, 1)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	go func() {
		defer cancel()
		a, err := e.doErr(ctx, "GET", pollQuery(sid), "", nil)
		if err != nil {
			a = httpAnswer{status: -1, body: err.Error()}
		}
		ch <- a
	}()
	return ch
}

// assertError checks a JSON error answer of the engine.
func assertError(t testing.TB, a httpAnswer, status, code int, msg string) {
	t.Helper()
	want := `{"code":` + strconv.Itoa(code) + `,"message":"` + msg + `"}`
	if a.status != status || a.body != want {
		t.Errorf("answer %d %q, want %d %q", a.status, a.body, status, want)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
}

// ---------------------------------------------------------------------------
// A TCP forwarder that can be frozen: it stops moving bytes in both
// directions while keeping the connections open.

type proxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen bool
	done   chan struct{} // closed by close
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t testing.TB, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, u)
		go p.pipe(u, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			frozen := p.frozen
			p.mu.Unlock()
			if frozen {
				<-p.done // the bytes are held back, never delivered
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze stops every byte from now on.
func (p *proxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

// close ends the proxy and its connections and waits for its goroutines.
func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
