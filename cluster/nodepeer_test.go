package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sio-go/sio/transport/peertest"
)

// nodeDir holds peer.js and the pinned reference packages.
const nodeDir = "testdata"

// peerEvent is a line that a node peer reported.
type peerEvent struct {
	Ev     string          `json:"ev"`
	ID     int             `json:"id"`
	Value  json.RawMessage `json:"value"`
	Error  string          `json:"error"`
	Client string          `json:"client"`
	Name   string          `json:"name"`
	Args   json.RawMessage `json:"args"`
	Reason string          `json:"reason"`
	NSP    string          `json:"nsp"`
	Msg    string          `json:"message"`
	Raw    string          `json:"-"`
}

// nodePeer is a node process running testdata/peer.js.
type nodePeer struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan peerEvent
	events  []peerEvent
	note    chan struct{}
	exited  chan struct{}
	stopped bool
}

// startNodePeer starts peer.js; the test's cleanup ends it.
func startNodePeer(t testing.TB) *nodePeer {
	t.Helper()
	node := peertest.NodeModules(t, nodeDir)
	dir, err := filepath.Abs(nodeDir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "peer.js")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &lockedWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &nodePeer{t: t, cmd: cmd, stdin: stdin, waiting: map[int]chan peerEvent{}, note: make(chan struct{}, 1), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var ev peerEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				continue
			}
			ev.Raw = sc.Text()
			p.mu.Lock()
			if ev.Ev == "result" {
				if ch := p.waiting[ev.ID]; ch != nil {
					ch <- ev
					delete(p.waiting, ev.ID)
				}
			} else {
				p.events = append(p.events, ev)
			}
			p.mu.Unlock()
			if ev.Ev == "fatal" {
				t.Errorf("node peer: %s", ev.Msg)
			}
			select {
			case p.note <- struct{}{}:
			default:
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.mu.Lock()
		p.stopped = true
		p.mu.Unlock()
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGCONT) // in case a test stopped it
		stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("node peer stderr:\n%s", stderr.String())
		}
	})
	return p
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// call runs a command and returns its result.
func (p *nodePeer) call(cmd string, fields map[string]any) (json.RawMessage, error) {
	p.t.Helper()
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	ch := make(chan peerEvent, 1)
	p.waiting[id] = ch
	p.mu.Unlock()
	m := map[string]any{"id": id, "cmd": cmd}
	for k, v := range fields {
		m[k] = v
	}
	line, err := json.Marshal(m)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return nil, err
	}
	select {
	case ev := <-ch:
		if ev.Error != "" {
			return nil, errors.New(ev.Error)
		}
		return ev.Value, nil
	case <-p.exited:
		return nil, errors.New("node peer exited")
	case <-time.After(waitFor):
		return nil, fmt.Errorf("node peer: no result for %s after %v", cmd, waitFor)
	}
}

// must is call that fails the test on error, decoding the result into out
// (when not nil).
func (p *nodePeer) must(cmd string, fields map[string]any, out any) {
	p.t.Helper()
	v, err := p.call(cmd, fields)
	if err != nil {
		p.t.Fatalf("node peer %s: %v", cmd, err)
	}
	if out != nil {
		if err := json.Unmarshal(v, out); err != nil {
			p.t.Fatalf("node peer %s result %s: %v", cmd, v, err)
		}
	}
}

// clientEvents returns the events client received so far, as text: the
// name then each argument's JSON.
func (p *nodePeer) clientEvents(client string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clientEventsLocked(client)
}

// waitUntil waits until cond holds for the peer's events.
func (p *nodePeer) waitUntil(what string, cond func(evs []peerEvent) bool) {
	p.t.Helper()
	deadline := time.After(waitFor)
	for {
		p.mu.Lock()
		ok := cond(p.events)
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.note:
		case <-deadline:
			p.mu.Lock()
			var lines []string
			for _, e := range p.events {
				lines = append(lines, e.Raw)
			}
			p.mu.Unlock()
			p.t.Fatalf("node peer: timed out waiting for %s; events:\n%s", what, strings.Join(lines, "\n"))
		}
	}
}

// waitClientEvent waits until client received an event whose text is ev.
func (p *nodePeer) waitClientEvent(client, ev string) {
	p.t.Helper()
	p.waitUntil(fmt.Sprintf("%s to receive %s", client, ev), func([]peerEvent) bool {
		for _, e := range p.clientEventsLocked(client) {
			if e == ev {
				return true
			}
		}
		return false
	})
}

func (p *nodePeer) clientEventsLocked(client string) []string {
	var out []string
	for _, ev := range p.events {
		if ev.Ev == "client-event" && ev.Client == client {
			var args []json.RawMessage
			_ = json.Unmarshal(ev.Args, &args)
			parts := []string{ev.Name}
			for _, a := range args {
				parts = append(parts, string(a))
			}
			out = append(out, strings.Join(parts, " "))
		}
	}
	return out
}

// stop freezes the process (SIGSTOP): its connections stay open and it
// answers nothing, as a node that hangs.
func (p *nodePeer) stop() { _ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGSTOP) }

// resume undoes stop.
func (p *nodePeer) resume() { _ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGCONT) }

var _ = context.Background
