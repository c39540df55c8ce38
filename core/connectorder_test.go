package core

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/core/eio"
)

// A broadcast made as soon as the client can have its CONNECT answer
// reaches it, after the answer: the reference joins a socket to its
// namespace before the answer is written, in one step. Here the wake that
// hands the answer out triggers the broadcast at once, as a client that
// reacts to its connect through another connection could.
func TestBroadcastOnceTheAnswerIsOutReachesTheSocket(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	srv := NewServer(Config{Clock: clk.Now})
	var (
		mu    sync.Mutex
		c     *Conn
		out   []string
		fired bool
	)
	wake := func() {
		mu.Lock()
		defer mu.Unlock()
		if c == nil || fired {
			return
		}
		for _, p := range c.TakeOutput(nil) {
			b, _ := eio.AppendFrame(nil, p)
			out = append(out, string(b))
			if strings.HasPrefix(string(b), "40{") {
				fired = true
				mu.Unlock()
				if err := srv.Of("/").Emit("after-answer"); err != nil {
					t.Error(err)
				}
				mu.Lock()
			}
		}
	}
	conn, err := srv.NewConn(eio.WebSocket, Handshake{}, clk.Now(), wake)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	c = conn
	c.TakeOutput(nil) // the open packet
	mu.Unlock()
	_ = conn.HandleFrame(clk.Now(), []byte("40"), false)
	mu.Lock()
	defer mu.Unlock()
	if !fired {
		t.Fatalf("the answer never came out: %q", out)
	}
	for _, p := range c.TakeOutput(nil) {
		b, _ := eio.AppendFrame(nil, p)
		out = append(out, string(b))
	}
	if len(out) != 2 || !strings.HasPrefix(out[0], "40{") || out[1] != `42["after-answer"]` {
		t.Errorf("frames %q, want the answer then the broadcast", out)
	}
}
