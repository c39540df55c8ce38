package distributor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/cluster/distributor"
	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/httpadapter"
	"github.com/sio-go/sio/transport/peertest"
)

const waitFor = 15 * time.Second

// checkLeaks fails the test when goroutines it started outlive its
// cleanups (registered first, so it runs last).
func checkLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutine(s) outlived the test:\n%s", n-before, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// gateway is an HTTP server of the official protocol whose chosen
// namespaces go to backends.
type gateway struct {
	srv  *httpadapter.Server
	http *httptest.Server
	g    *distributor.Gateway
	once sync.Once
}

func (g *gateway) URL() string { return g.http.URL }

// stop ends the gateway as a shutdown would: the forwarder, then the
// sessions, then the listener.
func (g *gateway) stop() {
	g.once.Do(func() {
		_ = g.g.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.srv.Close(ctx)
		g.http.CloseClientConnections()
		g.http.Close()
	})
}

func startGateway(t *testing.T, redisURL string, nsps map[string]string, setup func(*httpadapter.Server)) *gateway {
	t.Helper()
	return startGatewayWith(t, redisURL, distributor.GatewayOptions{Namespaces: nsps}, setup)
}

// startGatewayWith starts a gateway with opts, whose Common it fills.
func startGatewayWith(t *testing.T, redisURL string, opts distributor.GatewayOptions, setup func(*httpadapter.Server)) *gateway {
	t.Helper()
	srv := httpadapter.New(httpadapter.Options{PingInterval: time.Second, PingTimeout: 2 * time.Second})
	if setup != nil {
		setup(srv)
	}
	opts.Common = distributor.Common{URL: redisURL, Heartbeat: 300 * time.Millisecond}
	g, err := distributor.NewGateway(srv.Server, opts)
	if err != nil {
		t.Fatal(err)
	}
	gw := &gateway{srv: srv, http: newHTTPServer(srv), g: g}
	t.Cleanup(gw.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway %s: %+v", g.ID(), g.Stats())
		}
	})
	return gw
}

func newHTTPServer(srv *httpadapter.Server) *httptest.Server { return httptest.NewServer(srv) }

func startBackend(t *testing.T, redisURL, service string, setup func(b *distributor.Backend)) *distributor.Backend {
	t.Helper()
	b, err := distributor.NewBackend(distributor.BackendOptions{
		Common:  distributor.Common{URL: redisURL, Heartbeat: 300 * time.Millisecond},
		Service: service,
	})
	if err != nil {
		t.Fatal(err)
	}
	setup(b)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("backend %s: %+v", b.ID(), b.Stats())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := b.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

func waitReady(t *testing.T, g *gateway, services ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := g.g.WaitReady(ctx, services...); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------
// The official client under node.

type ev map[string]any

func (e ev) s(k string) string { v, _ := e[k].(string); return v }

// nodeClients is one node process running testdata/client.js.
type nodeClients struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	mu    sync.Mutex
	seen  []ev
	all   []ev // every event, logged when the test fails
	note  chan struct{}
	done  chan struct{}
	stdin sync.Mutex
}

func startClients(t *testing.T) *nodeClients {
	t.Helper()
	node := peertest.NodeModules(t, "testdata")
	cmd := exec.Command(node, "client.js")
	cmd.Dir = "testdata"
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &nodeClients{t: t, cmd: cmd, in: in, note: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(n.done)
		sc := bufio.NewScanner(outp)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var e ev
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				continue
			}
			if e.s("ev") == "fatal" {
				t.Errorf("node: %s", e.s("message"))
			}
			n.mu.Lock()
			n.all = append(n.all, e)
			n.seen = append(n.seen, e)
			close(n.note)
			n.note = make(chan struct{})
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = in.Close()
		select {
		case <-n.done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-n.done
		}
		_ = cmd.Wait()
		if t.Failed() {
			n.mu.Lock()
			for _, e := range n.all {
				t.Logf("client event: %v", e)
			}
			n.mu.Unlock()
		}
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("node stderr: %s", stderr.String())
		}
	})
	return n
}

func (n *nodeClients) send(m ev) {
	n.t.Helper()
	b, _ := json.Marshal(m)
	n.stdin.Lock()
	defer n.stdin.Unlock()
	if _, err := n.in.Write(append(b, '\n')); err != nil {
		n.t.Fatal(err)
	}
}

func (n *nodeClients) connect(c, url, nsp string, auth any) {
	n.send(ev{"cmd": "connect", "c": c, "url": url, "nsp": nsp, "auth": auth})
}

// next waits for the first event not yet taken that matches, and takes it.
func (n *nodeClients) next(what string, match func(ev) bool) ev {
	n.t.Helper()
	deadline := time.After(waitFor)
	for {
		n.mu.Lock()
		for i, e := range n.seen {
			if match(e) {
				n.seen = append(n.seen[:i:i], n.seen[i+1:]...)
				n.mu.Unlock()
				return e
			}
		}
		note := n.note
		n.mu.Unlock()
		select {
		case <-note:
		case <-deadline:
			n.mu.Lock()
			defer n.mu.Unlock()
			n.t.Fatalf("timed out waiting for %s; events not taken: %v", what, n.seen)
			return nil
		}
	}
}

// expect waits for event kind of client c.
func (n *nodeClients) expect(c, kind string) ev {
	n.t.Helper()
	return n.next(c+" "+kind, func(e ev) bool { return e.s("c") == c && e.s("ev") == kind })
}

// event waits for an event named name to client c.
func (n *nodeClients) event(c, name string) ev {
	n.t.Helper()
	return n.next(fmt.Sprintf("%s event %q", c, name), func(e ev) bool {
		return e.s("c") == c && e.s("ev") == "event" && e.s("name") == name
	})
}

func (n *nodeClients) ack(c string, seq int) ev {
	n.t.Helper()
	return n.next(fmt.Sprintf("%s ack %d", c, seq), func(e ev) bool {
		s, _ := e["seq"].(float64)
		return e.s("c") == c && e.s("ev") == "ack" && int(s) == seq
	})
}

// none fails when an event matching arrives within d.
func (n *nodeClients) none(d time.Duration, what string, match func(ev) bool) {
	n.t.Helper()
	deadline := time.After(d)
	for {
		n.mu.Lock()
		for _, e := range n.seen {
			if match(e) {
				n.mu.Unlock()
				n.t.Fatalf("unexpected %s: %v", what, e)
			}
		}
		note := n.note
		n.mu.Unlock()
		select {
		case <-note:
		case <-deadline:
			return
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sockets polls until fn holds, or fails.
func eventually(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var _ = core.ErrDisconnected
