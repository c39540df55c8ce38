package httpadapter_test

// The differential test: the same raw request sequences go to sio and to
// the reference server (socket.io 4.8 / engine.io 6.6, pinned in
// testdata/node, started by the test), and the transcripts of what each
// answered (status codes, content types, bodies, WebSocket frames) must be
// the same. Session and socket ids are normalised; timing is not compared,
// only what arrives and in which order on each connection.
//
// A difference kept on purpose is listed in the sequence, with its reason
// and sio's own transcript, which is then checked instead; the test fails
// if the two servers agree again, so that the note cannot go stale.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
)

// diffConfig is one configuration of both servers.
type diffConfig struct {
	name string
	ref  map[string]any
	sio  httpadapter.Options
}

var diffConfigs = map[string]diffConfig{
	// Slow heartbeats (no ping within a sequence), a small buffer limit.
	"std": {
		name: "std",
		ref:  map[string]any{"pingInterval": 10000, "pingTimeout": 5000, "maxHttpBufferSize": 1000},
		sio:  httpadapter.Options{PingInterval: 10 * time.Second, PingTimeout: 5 * time.Second, MaxHTTPBufferSize: 1000},
	},
	// Fast heartbeats, for the ping timeouts.
	"fast": {
		name: "fast",
		ref:  map[string]any{"pingInterval": 300, "pingTimeout": 200, "maxHttpBufferSize": 1000},
		sio:  httpadapter.Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxHTTPBufferSize: 1000},
	},
}

// diffSetup declares on the Go server what diffserver.js declares on the
// reference.
func diffSetup(srv *httpadapter.Server) {
	main := srv.Of("/")
	main.OnConnection(func(s *core.Socket) {
		s.On("echo", func(e *core.Event) { _ = e.Ack(e.Args.Values()...) })
		s.On("bcast", func(e *core.Event) { _ = main.Emit("bcast", e.Args.Values()...) })
		s.On("bye", func(*core.Event) { s.Disconnect(false) })
		s.On("close", func(*core.Event) { s.Disconnect(true) })
	})
	admin := srv.Of("/admin")
	admin.Use(func(s *core.Socket) error {
		var auth struct {
			Token string `json:"token"`
		}
		if s.Handshake().Auth.JSON != nil {
			_ = s.Handshake().Auth.Bind(&auth)
		}
		if auth.Token == "secret" {
			return nil
		}
		return &core.ConnectError{Message: "not authorized", Data: map[string]string{"reason": "bad token"}}
	})
	admin.OnConnection(func(*core.Socket) {})
}

// startReference runs diffserver.js with opts and returns its base URL.
func startReference(t *testing.T, h *harness, opts map[string]any) string {
	t.Helper()
	node := requireNode(t)
	dir, _ := filepath.Abs(nodeDir)
	js, _ := json.Marshal(opts)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "diffserver.js"), string(js))
	cmd.Dir = dir
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()
	h.addExtra(func() {
		_ = stdin.Close()
		select {
		case <-waited:
		case <-time.After(3 * time.Second):
			cancel()
			<-waited
		}
		cancel()
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			port <- strings.TrimSpace(sc.Text())
		}
		close(port)
		for sc.Scan() {
		}
	}()
	select {
	case p, ok := <-port:
		if !ok || p == "" {
			t.Fatal("the reference server printed no port")
		}
		return "http://127.0.0.1:" + p
	case <-time.After(waitFor):
		t.Fatal("the reference server did not start")
	}
	return ""
}

// diffRun records the transcript of one sequence against one server.
type diffRun struct {
	base   string
	addr   string
	client *http.Client
	mu     sync.Mutex
	lines  []string
	sids   []string // Engine.IO session ids seen, for normalisation
	sid    string   // the current session
	socks  []*rawSock
	failed bool
}

var socketIDRe = regexp.MustCompile(`"sid":"[^"]*"`)

// norm replaces the session ids by their rank and socket ids by <id>.
func (r *diffRun) norm(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, sid := range r.sids {
		s = strings.ReplaceAll(s, sid, fmt.Sprintf("<sid%d>", i))
	}
	return socketIDRe.ReplaceAllStringFunc(s, func(m string) string {
		if strings.Contains(m, "<sid") {
			return m
		}
		return `"sid":"<id>"`
	})
}

func (r *diffRun) log(format string, args ...any) {
	line := r.norm(fmt.Sprintf(format, args...))
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
}

func (r *diffRun) addSID(sid string) {
	r.mu.Lock()
	r.sids = append(r.sids, sid)
	r.sid = sid
	r.mu.Unlock()
}

// q is the query of a request on the current session.
func (r *diffRun) q(transport string) string {
	return "EIO=4&transport=" + transport + "&sid=" + url.QueryEscape(r.sid)
}

func (r *diffRun) answer(a rawAnswer) string {
	if a.err != nil {
		return "error"
	}
	return fmt.Sprintf("%d %s %q", a.status, a.ctype, r.norm(a.body))
}

// req sends a request and logs its answer.
func (r *diffRun) req(method, query, body string, hdr map[string]string) rawAnswer {
	a := rawHTTP(r.client, r.base, method, "/socket.io/?"+query, body, hdr)
	r.log("%s %s %q -> %s", method, query, body, r.answer(a))
	return a
}

func (r *diffRun) get(query string) rawAnswer { return r.req("GET", query, "", nil) }

func (r *diffRun) post(query, body string) rawAnswer { return r.req("POST", query, body, nil) }

// handshake opens a polling session, which becomes the current one.
func (r *diffRun) handshake() {
	a := rawHTTP(r.client, r.base, "GET", "/socket.io/?EIO=4&transport=polling", "", nil)
	if strings.HasPrefix(a.body, "0{") {
		var open struct{ SID string }
		if json.Unmarshal([]byte(a.body[1:]), &open) == nil {
			r.addSID(open.SID)
		}
	}
	r.log("handshake -> %s", r.answer(a))
}

// connect opens a polling session and joins "/".
func (r *diffRun) connect() {
	r.handshake()
	r.post(r.q("polling"), "40")
	r.get(r.q("polling"))
}

// collect polls until n packets have come and logs them in order: how the
// server's handlers spread their answers over polls is timing, not
// protocol.
func (r *diffRun) collect(n int) {
	var got []string
	for len(got) < n {
		a := rawHTTP(r.client, r.base, "GET", "/socket.io/?"+r.q("polling"), "", nil)
		if a.err != nil || a.status != 200 {
			r.log("GET* -> %s after %q", r.answer(a), strings.Join(got, "|"))
			return
		}
		got = append(got, strings.Split(a.body, "\x1e")...)
	}
	r.log("GET* -> %q", r.norm(strings.Join(got, "\x1e")))
}

// pendingReq is a request under way.
type pendingReq struct {
	label string
	ch    chan rawAnswer
}

// start sends a request on a goroutine of its own.
func (r *diffRun) start(method, query, body string) *pendingReq {
	p := &pendingReq{label: fmt.Sprintf("%s %s %q", method, query, body), ch: make(chan rawAnswer, 1)}
	go func() { p.ch <- rawHTTP(r.client, r.base, method, "/socket.io/?"+query, body, nil) }()
	return p
}

// await logs the answer of p, waiting at most d ("pending" if none).
func (r *diffRun) await(p *pendingReq, d time.Duration) {
	select {
	case a := <-p.ch:
		r.log("%s -> %s", p.label, r.answer(a))
	case <-time.After(d):
		r.log("%s -> pending", p.label)
		// Leave it: the server's close ends it; collect it then.
		go func() { <-p.ch }()
	}
}

// ws opens a WebSocket with query; nil when refused.
func (r *diffRun) ws(query string) *rawSock {
	s, err := dialRaw(r.addr, "/socket.io/?"+query)
	if err != nil {
		r.log("WS %s -> error", query)
		return nil
	}
	if s.status != 101 {
		r.log("WS %s -> %d %q", query, s.status, r.norm(s.body))
		return nil
	}
	r.log("WS %s -> 101", query)
	r.mu.Lock()
	r.socks = append(r.socks, s)
	r.mu.Unlock()
	return s
}

// wsOpen opens a WebSocket session, which becomes the current one.
func (r *diffRun) wsOpen() *rawSock {
	s, err := dialRaw(r.addr, "/socket.io/?EIO=4&transport=websocket")
	if err != nil || s.status != 101 {
		r.log("ws handshake -> failed")
		return nil
	}
	r.mu.Lock()
	r.socks = append(r.socks, s)
	r.mu.Unlock()
	f, ok := s.next(waitFor)
	if ok && f.op == 1 && strings.HasPrefix(string(f.payload), "0{") {
		var open struct{ SID string }
		if json.Unmarshal(f.payload[1:], &open) == nil {
			r.addSID(open.SID)
		}
	}
	r.log("ws handshake -> %s", r.frameString(f))
	return s
}

// send writes a text frame and logs it.
func (r *diffRun) send(s *rawSock, msg string) {
	if s == nil {
		return
	}
	if err := s.text(msg); err != nil {
		r.log("ws> %q: error", msg)
		return
	}
	r.log("ws> %q", msg)
}

// raw writes one masked frame of opcode op (fin: the last of its message)
// and logs it as what.
func (r *diffRun) raw(s *rawSock, what string, fin bool, op byte, payload string) {
	if s == nil {
		return
	}
	if err := s.writeFrame(fin, op, []byte(payload)); err != nil {
		r.log("ws> %s %q: error", what, payload)
		return
	}
	r.log("ws> %s %q", what, payload)
}

// frame logs the next frame of s, or "none" if none comes within d.
func (r *diffRun) frame(s *rawSock, d time.Duration) rawFrame {
	if s == nil {
		r.log("ws< (no socket)")
		return rawFrame{}
	}
	f, ok := s.next(d)
	if !ok {
		r.log("ws< none")
		return rawFrame{}
	}
	r.log("ws< %s", r.frameString(f))
	return f
}

// frameString is f as a transcript line, its text normalised.
func (r *diffRun) frameString(f rawFrame) string {
	if f.op == 0x1 {
		return "text " + strconv.Quote(r.norm(string(f.payload)))
	}
	return f.String()
}

// untilEOF logs the frames of s until the connection ends.
func (r *diffRun) untilEOF(s *rawSock) {
	if s == nil {
		r.log("ws< (no socket)")
		return
	}
	deadline := time.Now().Add(waitFor)
	for {
		f, ok := s.next(time.Until(deadline))
		if !ok {
			r.log("ws< still open")
			return
		}
		r.log("ws< %s", r.frameString(f))
		if f.op == 0xff {
			return
		}
	}
}

// wsConnect opens a WebSocket session and joins "/".
func (r *diffRun) wsConnect() *rawSock {
	s := r.wsOpen()
	r.send(s, "40")
	r.frame(s, waitFor)
	return s
}

// upgrade opens a polling session with "/" joined and upgrades it.
func (r *diffRun) upgrade() *rawSock {
	r.connect()
	s := r.ws(r.q("websocket"))
	r.send(s, "2probe")
	r.frame(s, waitFor)
	r.send(s, "5")
	return s
}

func (r *diffRun) close() {
	r.mu.Lock()
	socks := r.socks
	r.mu.Unlock()
	for _, s := range socks {
		s.closeNow()
	}
}

// short: how long to wait for something that should not come.
const shortWait = 300 * time.Millisecond

// diffSeq is one sequence.
type diffSeq struct {
	name string
	cfg  string // "std" when empty
	run  func(r *diffRun)
	// differs is the reason for a difference kept on purpose; sio is then
	// sio's own transcript.
	differs string
	sio     []string
}

func TestDifferential(t *testing.T) {
	h := newHarness(t)
	type pair struct{ ref, sio string }
	servers := map[string]pair{}
	for name, cfg := range diffConfigs {
		ref := startReference(t, h, cfg.ref)
		e := h.newEnv(nil, cfg.sio, diffSetup)
		servers[name] = pair{ref: ref, sio: e.base}
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitFor}
	defer client.CloseIdleConnections()
	seqs := diffSequences()
	if len(seqs) < 40 {
		t.Fatalf("%d sequences, want at least 40", len(seqs))
	}
	for _, seq := range seqs {
		t.Run(seq.name, func(t *testing.T) {
			cfg := seq.cfg
			if cfg == "" {
				cfg = "std"
			}
			p := servers[cfg]
			runs := [2]*diffRun{}
			var wg sync.WaitGroup
			for i, base := range []string{p.ref, p.sio} {
				u, _ := url.Parse(base)
				runs[i] = &diffRun{base: base, addr: u.Host, client: client}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer runs[i].close()
					seq.run(runs[i])
				}()
			}
			wg.Wait()
			ref, got := runs[0].lines, runs[1].lines
			if seq.differs != "" {
				if !equalLines(got, seq.sio) {
					t.Errorf("sio's transcript (a difference kept on purpose: %s):\n%s\nwant:\n%s", seq.differs, strings.Join(got, "\n"), strings.Join(seq.sio, "\n"))
				}
				if equalLines(ref, got) {
					t.Errorf("the servers agree now: drop the note %q", seq.differs)
				}
				return
			}
			if !equalLines(ref, got) {
				t.Errorf("transcripts differ\nreference:\n%s\nsio:\n%s", strings.Join(ref, "\n"), strings.Join(got, "\n"))
			}
		})
	}
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
