package transport_test

// Backpressure: a session that implements ReadPaused (core.Conn does) is
// not read while it says so; its timer and its writes go on.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/transport"
)

// pausable is a real Engine.IO session whose reads the test pauses.
type pausable struct {
	*core.EngineConn
	mu    sync.Mutex
	pause chan struct{}
}

func (p *pausable) ReadPaused() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pause == nil {
		return nil
	}
	return p.pause
}

func (p *pausable) setPause(ch chan struct{}) {
	p.mu.Lock()
	p.pause = ch
	p.mu.Unlock()
}

// counter counts the messages a session receives.
type counter struct {
	n      atomic.Int64
	closed chan struct{}
	once   sync.Once
}

func (c *counter) OnMessage(time.Time, eio.Packet)  { c.n.Add(1) }
func (c *counter) OnClose(eio.Reason, error)        { c.once.Do(func() { close(c.closed) }) }
func (c *counter) OnTimeout(time.Time)              {}
func (c *counter) Deadline() (t time.Time, ok bool) { return t, false }

// pausedServer serves one session on transport t at an httptest server.
type pausedServer struct {
	d    *transport.Driver
	sess *pausable
	h    *counter
	ts   *httptest.Server
	done chan struct{} // the driver finished
	wg   sync.WaitGroup
}

func newPausedServer(t *testing.T, tr eio.Transport) *pausedServer {
	t.Helper()
	s := &pausedServer{h: &counter{closed: make(chan struct{})}, done: make(chan struct{})}
	s.d = transport.NewDriver(transport.Options{OnDone: func() { close(s.done) }})
	cfg := eio.Config{PingInterval: time.Hour, PingTimeout: time.Hour}
	s.sess = &pausable{EngineConn: core.NewEngineConn("sid", cfg, tr, time.Now(), s.d.Wake, s.h)}
	s.d.Attach(s.sess)
	s.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Query().Get("transport") == "websocket":
			ws, err := transport.AcceptWebSocket(w, r, transport.AcceptOptions{})
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.d.ServeWebSocket(ws)
			}()
		case r.Method == http.MethodPost:
			if err := s.d.ServePost(w, r); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
			}
		default:
			if err := s.d.ServePoll(w, r); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
			}
		}
	}))
	t.Cleanup(func() {
		s.d.Abort()
		s.ts.Close()
		s.wg.Wait()
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			t.Error("the driver did not finish")
		}
	})
	return s
}

// absent: how long the test watches for something that must not happen.
const absent = 200 * time.Millisecond

func TestReadPausedWebSocket(t *testing.T) {
	s := newPausedServer(t, eio.WebSocket)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.ts.URL, "http")+"/?transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, b, err := c.Read(ctx); err != nil || !strings.HasPrefix(string(b), "0{") {
		t.Fatalf("open packet: %q %v", b, err)
	}
	resume := make(chan struct{})
	s.sess.setPause(resume)
	for _, m := range []string{"4one", "4two", "4three"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	// The first message is read; then the session says it is full.
	waitCount(t, &s.h.n, 1)
	// Writes go on while the reader waits.
	if err := s.sess.Send(false, eio.Packet{Type: eio.Message, Data: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || string(b) != "4hello" {
		t.Fatalf("while paused: %q %v, want 4hello", b, err)
	}
	time.Sleep(absent)
	if n := s.h.n.Load(); n != 1 {
		t.Fatalf("%d messages read while paused, want 1", n)
	}
	s.sess.setPause(nil)
	close(resume)
	waitCount(t, &s.h.n, 3)
}

func TestReadPausedPolling(t *testing.T) {
	s := newPausedServer(t, eio.Polling)
	base := s.ts.URL + "/?transport=polling"
	if b, err := httpDo("GET", base, ""); err != nil || !strings.HasPrefix(b, "0{") {
		t.Fatalf("open packet: %q %v", b, err)
	}
	resume := make(chan struct{})
	s.sess.setPause(resume)
	posted := make(chan string, 1)
	go func() {
		b, err := httpDo("POST", base, "4one\x1e4two")
		if err != nil {
			b = err.Error()
		}
		posted <- b
	}()
	// The body is handled; its answer waits for room.
	waitCount(t, &s.h.n, 2)
	// Writes go on: a poll gets what is sent meanwhile.
	if err := s.sess.Send(false, eio.Packet{Type: eio.Message, Data: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	if b, err := httpDo("GET", base, ""); err != nil || b != "4hello" {
		t.Fatalf("poll while paused: %q %v, want 4hello", b, err)
	}
	select {
	case b := <-posted:
		t.Fatalf("the POST was answered while paused: %q", b)
	case <-time.After(absent):
	}
	s.sess.setPause(nil)
	close(resume)
	select {
	case b := <-posted:
		if b != "ok" {
			t.Fatalf("POST answer %q, want ok", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the POST was not answered once resumed")
	}
}

func httpDo(method, url, body string) (string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return string(b), errors.New(res.Status)
	}
	return string(b), err
}

func waitCount(t *testing.T, n *atomic.Int64, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages, want %d", n.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
