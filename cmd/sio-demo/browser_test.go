package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/transport/peertest"
)

// This file drives Debian's chromium, headless, over the DevTools
// protocol: a browser-level WebSocket, one page target attached in flat
// mode, and the few commands the page test needs.

// chromiumPath is the browser the tests run.
const chromiumPath = "/usr/bin/chromium"

// browser is a headless chromium the test started.
type browser struct {
	cmd    *exec.Cmd
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpReply
	events  []string // console messages and exceptions, for the log
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// startBrowser starts chromium with an empty profile, or skips when it is
// not installed.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if p, lerr := exec.LookPath("chromium"); lerr == nil {
			path = p
		} else {
			peertest.Unavailable(t, "chromium is not installed; install it with: apt-get install chromium")
		}
	}
	// The profile is removed after the browser's last process is gone,
	// which can be a moment after the main one.
	profile, err := os.MkdirTemp("", "sio-demo-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+profile, "--remote-debugging-port=0",
		"--remote-allow-origins=*", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	dieWithParent(cmd)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true // its helpers too are stopped by the group's id
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &browser{cmd: cmd, done: make(chan struct{}), pending: map[int64]chan cdpReply{}}
	urlc := make(chan string, 1)
	var tail []string
	var tailMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		found := false
		for sc.Scan() {
			if m := devtoolsRE.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				urlc <- m[1]
			}
			tailMu.Lock()
			tail = append(tail, sc.Text())
			if len(tail) > 20 {
				tail = tail[1:]
			}
			tailMu.Unlock()
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() {
		if b.ws != nil {
			// A clean exit first: the browser stops its helpers.
			_ = b.try("", "Browser.close", nil, nil)
		}
		select {
		case <-b.done:
		case <-time.After(10 * time.Second):
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-b.done
		if b.cancel != nil {
			b.cancel()
		}
		if b.ws != nil {
			b.ws.CloseNow()
		}
		var err error
		for range 50 {
			if err = os.RemoveAll(profile); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("removing the browser profile: %v", err)
		}
	})
	var wsURL string
	select {
	case wsURL = <-urlc:
	case <-b.done:
		tailMu.Lock()
		defer tailMu.Unlock()
		t.Fatalf("chromium exited: %s", strings.Join(tail, "\n"))
	case <-time.After(60 * time.Second):
		t.Fatal("chromium did not open its DevTools endpoint within 60s")
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	ws, _, err := websocket.Dial(b.ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(64 << 20) // screenshots
	b.ws = ws
	go b.read()
	return b
}

// read dispatches the browser's answers and keeps the page's console.
func (b *browser) read() {
	for {
		_, data, err := b.ws.Read(b.ctx)
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m struct {
			ID     int64           `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			cdpReply
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		if m.ID == 0 {
			switch m.Method {
			case "Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded":
				b.mu.Lock()
				if len(b.events) < 200 {
					b.events = append(b.events, m.Method+" "+string(m.Params))
				}
				b.mu.Unlock()
			}
			continue
		}
		b.mu.Lock()
		ch := b.pending[m.ID]
		delete(b.pending, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m.cdpReply
		}
	}
}

// call sends a command (to the page session when session is set) and
// decodes its result into out (when not nil).
func (b *browser) call(t *testing.T, session, method string, params any, out any) {
	t.Helper()
	if err := b.try(session, method, params, out); err != nil {
		t.Fatal(err)
	}
}

func (b *browser) try(session, method string, params any, out any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpReply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if params == nil {
		msg["params"] = map[string]any{}
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := b.ws.Write(ctx, websocket.MessageText, data); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: the browser closed the connection", method)
		}
		if r.Error != nil {
			return fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: no answer within 30s", method)
	}
}

// page is one tab.
type page struct {
	b       *browser
	session string
}

// newPage opens a tab with the given viewport.
func (b *browser) newPage(t *testing.T, width, height int, mobile bool) *page {
	t.Helper()
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.call(t, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	b.call(t, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	p := &page{b: b, session: att.SessionID}
	b.call(t, p.session, "Runtime.enable", nil, nil)
	b.call(t, p.session, "Page.enable", nil, nil)
	scale := 1.0
	if mobile {
		scale = 2
	}
	b.call(t, p.session, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile,
	}, nil)
	return p
}

func (p *page) navigate(t *testing.T, url string) {
	t.Helper()
	p.b.call(t, p.session, "Page.navigate", map[string]any{"url": url}, nil)
}

// eval evaluates expr in the page and decodes its value into out.
func (p *page) eval(t *testing.T, expr string, out any) error {
	t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := p.b.try(p.session, "Runtime.evaluate", map[string]any{
		"expression": expr, "returnByValue": true, "awaitPromise": true,
	}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("%s: %s", expr, r.ExceptionDetails.Text)
	}
	if out == nil || len(r.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

// pageState is window.demoState, as the page keeps it.
type pageState struct {
	Client     string  `json:"client"`
	Status     string  `json:"status"`
	Transport  string  `json:"transport"`
	UpgradedAt float64 `json:"upgradedAt"`
	Seq        int64   `json:"seq"`
	Gaps       int64   `json:"gaps"`
	S2C        int64   `json:"s2c"`
	S2CMissed  int64   `json:"s2cMissed"`
	S2CDups    int64   `json:"s2cDups"`
	S2CRate    float64 `json:"s2cRate"`
	Clients    *int    `json:"clients"`
	Error      string  `json:"error"`
	Worker     *struct {
		Worker int `json:"worker"`
		PID    int `json:"pid"`
	} `json:"worker"`
	Acks []struct {
		N      int     `json:"n"`
		MS     float64 `json:"ms"`
		Worker int     `json:"worker"`
		Count  int64   `json:"count"`
		Error  string  `json:"error"`
	} `json:"acks"`
}

func (p *page) state(t *testing.T) pageState {
	t.Helper()
	var s pageState
	if err := p.eval(t, "window.demoState || {}", &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// await polls the page's state until cond holds or the time is up.
func (p *page) await(t *testing.T, what string, d time.Duration, cond func(pageState) bool) pageState {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := p.state(t)
		if cond(s) {
			return s
		}
		if s.Status == "error" || time.Now().After(deadline) {
			p.b.mu.Lock()
			ev := strings.Join(p.b.events, "\n")
			p.b.mu.Unlock()
			t.Fatalf("%s: not within %v; page state %+v\nconsole:\n%s", what, d, s, ev)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *page) text(t *testing.T, id string) string {
	t.Helper()
	var s string
	if err := p.eval(t, "document.getElementById("+strconv.Quote(id)+").textContent", &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// screenshot writes a PNG of the whole page, below the fold included, to
// path.
func (p *page) screenshot(t *testing.T, path string) {
	t.Helper()
	var size struct{ W, H float64 }
	if err := p.eval(t, `({W: document.documentElement.clientWidth, H: document.documentElement.scrollHeight})`, &size); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Data string `json:"data"`
	}
	p.b.call(t, p.session, "Page.captureScreenshot", map[string]any{
		"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": size.W, "height": size.H, "scale": 1},
	}, &r)
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// screenshotDir is where the page test writes its screenshots: the
// folder SIO_DEMO_SCREENSHOTS names, else a temporary one.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("SIO_DEMO_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestPageInBrowser loads the live page in headless chromium, once with
// the JavaScript client and once with the Go client compiled to
// WebAssembly: it connects, the counters rise, and a press of the button
// reaches the server and shows its ack. Each mode is shot at a laptop's
// size and at a phone's.
func TestPageInBrowser(t *testing.T) {
	b := startBrowser(t)
	both := startDemo(t, demoConfig{SeqInterval: 200 * time.Millisecond, BcastInterval: 250 * time.Millisecond})
	// As with several workers on one port: no polling offered.
	wsOnly := startDemo(t, demoConfig{SeqInterval: 200 * time.Millisecond, BcastInterval: 250 * time.Millisecond, Transports: "websocket"})
	dir := screenshotDir(t)
	c2sCount := func(base string) int64 {
		m := regexp.MustCompile(`(?m)^sio_demo_events_in_total\{worker="1",event="c2s-event"\} ([0-9]+)$`).FindStringSubmatch(get(t, base+"/metrics"))
		if m == nil {
			t.Fatal("no c2s-event counter in /metrics")
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return n
	}
	for _, mode := range []struct {
		name, client, base, query, badge string
		upgrade                          bool          // polling first, then the upgrade
		wait                             time.Duration // the Go client is built on the first request
	}{
		{"js", "js", both, "/", "JavaScript client (sio.js)", true, 30 * time.Second},
		{"js-websocket-only", "js", wsOnly, "/", "JavaScript client (sio.js)", false, 30 * time.Second},
		{"go", "go", both, "/?client=go", "Go client (WebAssembly)", true, 5 * time.Minute},
		{"go-websocket-only", "go", wsOnly, "/?client=go", "Go client (WebAssembly)", false, 5 * time.Minute},
	} {
		base := mode.base
		t.Run(mode.name, func(t *testing.T) {
			p := b.newPage(t, 1280, 860, false)
			p.navigate(t, base+mode.query)
			s := p.await(t, "connected with a seq-num", mode.wait, func(s pageState) bool {
				return s.Status == "connected" && s.Seq >= 1 && s.Worker != nil
			})
			if s.Client != mode.client {
				t.Errorf("client %q, want %q", s.Client, mode.client)
			}
			if got := p.text(t, "client-name"); got != mode.badge {
				t.Errorf("the page says %q, want %q", got, mode.badge)
			}
			if mode.upgrade {
				// One process offers polling: the page starts there and
				// upgrades.
				s = p.await(t, "the upgrade to websocket", 20*time.Second, func(s pageState) bool {
					return s.Transport == "websocket" && s.UpgradedAt > 0
				})
				if up := p.text(t, "upgrade"); !strings.HasPrefix(up, "upgraded from polling at ") {
					t.Errorf("upgrade line %q", up)
				}
			} else {
				if s.Transport != "websocket" || s.UpgradedAt != 0 {
					t.Errorf("the %s client runs on %q (upgraded at %v), want websocket from the start", mode.client, s.Transport, s.UpgradedAt)
				}
				if up := p.text(t, "upgrade"); up != "from the start" {
					t.Errorf("upgrade line %q", up)
				}
			}
			// Rising counters.
			s0 := s
			s = p.await(t, "rising counters", 20*time.Second, func(s pageState) bool {
				return s.Seq >= s0.Seq+3 && s.S2C >= s0.S2C+3 && s.S2CRate > 0 && s.Clients != nil && *s.Clients >= 1
			})
			if s.Gaps != 0 || s.S2CMissed != 0 || s.S2CDups != 0 {
				t.Errorf("gaps %d, s2c missed %d, duplicates %d", s.Gaps, s.S2CMissed, s.S2CDups)
			}
			if got := p.text(t, "seq"); got == "–" || got == "" {
				t.Errorf("seq-num shows %q", got)
			}
			// The button reaches the server and shows the ack.
			before := c2sCount(base)
			if err := p.eval(t, `document.getElementById("send").click()`, nil); err != nil {
				t.Fatal(err)
			}
			s = p.await(t, "the ack", 20*time.Second, func(s pageState) bool { return len(s.Acks) >= 1 })
			a := s.Acks[0]
			if a.Error != "" || a.MS <= 0 || a.Worker != 1 || a.Count != 1 {
				t.Errorf("ack: %+v", a)
			}
			if after := c2sCount(base); after != before+1 {
				t.Errorf("the server counted %d c2s-events for one press", after-before)
			}
			if rtt := p.text(t, "rtt"); !strings.HasSuffix(rtt, " ms") {
				t.Errorf("round trip shows %q", rtt)
			}
			p.screenshot(t, filepath.Join(dir, "page-"+mode.name+"-laptop.png"))
			// The same page on a phone's screen.
			ph := b.newPage(t, 390, 844, true)
			ph.navigate(t, base+mode.query)
			ph.await(t, "connected on a phone", mode.wait, func(s pageState) bool {
				return s.Status == "connected" && s.Seq >= 2 && s.S2C >= 2
			})
			if err := ph.eval(t, `document.getElementById("send").click()`, nil); err != nil {
				t.Fatal(err)
			}
			ph.await(t, "the ack on a phone", 20*time.Second, func(s pageState) bool { return len(s.Acks) >= 1 })
			ph.screenshot(t, filepath.Join(dir, "page-"+mode.name+"-phone.png"))
		})
	}
}

// TestPageReconnects stops the server under the page and starts another
// on the same port: in both modes the page shows the loss, reconnects by
// itself to the new server, and its seq-num starts again.
func TestPageReconnects(t *testing.T) {
	b := startBrowser(t)
	for _, mode := range []struct{ name, query string }{{"js", "/"}, {"go", "/?client=go"}} {
		t.Run(mode.name, func(t *testing.T) {
			args := []string{"-host", "127.0.0.1", "-port", "0", "-seq-interval", "100", "-broadcast-interval", "100"}
			first := startDemoProc(t, args)
			p := b.newPage(t, 1024, 768, false)
			p.navigate(t, first.url+mode.query)
			s := p.await(t, "connected", 5*time.Minute, func(s pageState) bool {
				return s.Status == "connected" && s.Seq >= 3 && s.Worker != nil
			})
			pid := s.Worker.PID
			if rest := first.stop(t, syscall.SIGTERM); len(rest) != 1 {
				t.Errorf("server output: %q", rest)
			}
			p.await(t, "the loss", 20*time.Second, func(s pageState) bool { return s.Status != "connected" })
			port := first.url[strings.LastIndexByte(first.url, ':')+1:]
			args[3] = port
			second := startDemoProc(t, args)
			if second.url != first.url {
				t.Fatalf("the second server is at %s, not %s", second.url, first.url)
			}
			s = p.await(t, "reconnected to the second server", 30*time.Second, func(s pageState) bool {
				return s.Status == "connected" && s.Worker != nil && s.Worker.PID != pid && s.Seq >= 1
			})
			if s.Gaps != 0 {
				t.Errorf("%d seq-num gaps across the reconnection", s.Gaps)
			}
			second.stop(t, syscall.SIGTERM)
		})
	}
}

// TestPageOnCluster loads the page from three workers sharing a port with
// the cluster bus: the page connects over WebSocket from the start, names
// the worker that answered, and counts the clients of every worker.
func TestPageOnCluster(t *testing.T) {
	if !reusePortSupported {
		t.Skip("several processes on one port need SO_REUSEPORT (Linux)")
	}
	b := startBrowser(t)
	redis := peertest.StartRedis(t)
	srv := startDemoProc(t, []string{"-host", "127.0.0.1", "-port", "0", "-seq-interval", "200", "-broadcast-interval", "250"},
		"WEB_CONCURRENCY=3", "REDIS_URL="+redis.URL())
	// Other clients, on whichever workers the kernel picks.
	cfg := defaultLoadConfig()
	cfg.URL, cfg.Sessions, cfg.Transport, cfg.Rate, cfg.Duration = srv.url, 12, "websocket", 0, 0
	connected := make(chan struct{}, cfg.Sessions)
	cfg.onConnect = func() { connected <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := runClients(ctx, cfg, nil)
		done <- err
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("client: %v", err)
		}
	}()
	for range cfg.Sessions {
		select {
		case <-connected:
		case <-time.After(30 * time.Second):
			t.Fatal("the clients did not connect within 30s")
		}
	}
	for _, mode := range []struct{ name, query string }{{"js", "/"}, {"go", "/?client=go"}} {
		t.Run(mode.name, func(t *testing.T) {
			p := b.newPage(t, 1280, 860, false)
			p.navigate(t, srv.url+mode.query)
			s := p.await(t, "every worker's broadcasts and the cluster's count", 5*time.Minute, func(s pageState) bool {
				return s.Status == "connected" && s.Worker != nil && s.Clients != nil && *s.Clients >= cfg.Sessions+1 && s.S2C >= 9
			})
			if s.Transport != "websocket" || s.UpgradedAt != 0 {
				t.Errorf("transport %q, upgraded at %v: want websocket from the start", s.Transport, s.UpgradedAt)
			}
			if w := p.text(t, "worker"); !strings.HasPrefix(w, "worker "+strconv.Itoa(s.Worker.Worker)+" · pid "+strconv.Itoa(s.Worker.PID)) || !strings.HasSuffix(w, "(of 3)") {
				t.Errorf("the page says %q", w)
			}
			if err := p.eval(t, `document.getElementById("send").click()`, nil); err != nil {
				t.Fatal(err)
			}
			s = p.await(t, "the ack", 20*time.Second, func(s pageState) bool { return len(s.Acks) >= 1 })
			if a := s.Acks[0]; a.Error != "" || a.Worker != s.Worker.Worker {
				t.Errorf("ack %+v from worker %d", a, s.Worker.Worker)
			}
			p.screenshot(t, filepath.Join(screenshotDir(t), "page-"+mode.name+"-cluster.png"))
		})
	}
}
