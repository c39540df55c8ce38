package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sio-go/sio/transport/peertest"
)

// TestPlainServer: the ceiling server speaks what the bench's client
// needs: the handshake, echo answered as its ack, bcast to every
// connection (one that has its connect answer gets every broadcast sent
// after it), and Close ends every connection, the idle ones included.
func TestPlainServer(t *testing.T) {
	peertest.CheckLeaks(t)
	p := newPlainServer()
	hs := httptest.NewServer(p)
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	addr := strings.TrimPrefix(hs.URL, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 8
	h := newHub(n, 1)
	cs, err := dialAll(ctx, addr, n, 4, h)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(cs)
	for _, c := range cs {
		e := newEchoer(c, "payload")
		for range 3 {
			if err := e.roundTrip(ctx, 10*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	var msg []byte
	for seq := range int64(5) {
		h.slots[0].Store(0)
		msg = appendBcast(msg[:0], seq, "x")
		if err := cs[seq%n].send(msg); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-h.complete:
			if got != seq {
				t.Fatalf("broadcast %d completed as %d", seq, got)
			}
		case <-ctx.Done():
			t.Fatalf("broadcast %d: %d of %d clients got it", seq, h.slots[0].Load(), n)
		}
	}
	if d := h.delivered.Load(); d != 5*n {
		t.Errorf("%d deliveries, want %d", d, 5*n)
	}
	// A message beyond the limit ends that connection alone.
	if err := cs[0].send([]byte("42" + strings.Repeat("x", maxPlainMessage))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cs[0].done:
	case <-ctx.Done():
		t.Fatal("an oversized message did not end the connection")
	}
	if err := newEchoer(cs[1], "still").roundTrip(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// A peer that never finishes the handshake is let go at Close.
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/socket.io/?EIO=4&transport=websocket", &websocket.DialOptions{HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, _, err := ws.Read(ctx); err != nil {
		t.Fatal(err)
	}
}
