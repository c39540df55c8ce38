package transport_test

// The WebSocket writers run on workers that park between batches and end
// with the last writer (writerpool.go).

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/transport"
)

// waitWriters waits until no writer is live and no worker parked: those of
// earlier tests end with their drivers.
func waitWriters(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		idle, live, _ := transport.WriterWorkers()
		if idle == 0 && live == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writers live, %d workers parked; want none", live, idle)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialed is a pausedServer's session over a WebSocket, its open packet read.
func dialed(t *testing.T, ctx context.Context) (*pausedServer, *websocket.Conn) {
	t.Helper()
	s := newPausedServer(t, eio.WebSocket)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.ts.URL, "http")+"/?transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if _, b, err := c.Read(ctx); err != nil || !strings.HasPrefix(string(b), "0{") {
		t.Fatalf("open packet: %q %v", b, err)
	}
	return s, c
}

func (s *pausedServer) stop(t *testing.T) {
	t.Helper()
	s.d.Abort()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the driver did not finish")
	}
}

// A session written to again and again reuses one parked worker, rather
// than starting a goroutine per write; the workers end with the last
// writer.
func TestWriterWorkersReused(t *testing.T) {
	waitWriters(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var servers []*pausedServer
	var conns []*websocket.Conn
	for range 3 {
		s, c := dialed(t, ctx)
		servers, conns = append(servers, s), append(conns, c)
	}
	if _, live, _ := transport.WriterWorkers(); live != 3 {
		t.Fatalf("%d writers live, want 3", live)
	}
	_, _, before := transport.WriterWorkers()
	const rounds = 100
	for i := range rounds {
		for k, s := range servers {
			msg := fmt.Sprintf("%d-%d", k, i)
			if err := s.sess.Send(false, eio.Packet{Type: eio.Message, Data: []byte(msg)}); err != nil {
				t.Fatal(err)
			}
			if _, b, err := conns[k].Read(ctx); err != nil || string(b) != "4"+msg {
				t.Fatalf("read %q %v, want 4%s", b, err, msg)
			}
		}
	}
	// Each write finds the worker of the one before parked: none starts,
	// but for a worker still on its way to park when the next write came.
	idle, _, after := transport.WriterWorkers()
	if n := after - before; n > 3 {
		t.Errorf("%d workers started for %d writes, want at most 3", n, 3*rounds)
	}
	if idle == 0 {
		t.Error("no worker parked between writes")
	}
	for _, s := range servers {
		s.stop(t)
	}
	waitWriters(t)
}

// Sessions written to from many goroutines at once while others close:
// every message arrives, in order per session, and every worker ends.
func TestWriterWorkersConcurrent(t *testing.T) {
	waitWriters(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const sessions, msgs = 16, 200
	var servers []*pausedServer
	var conns []*websocket.Conn
	for range sessions {
		s, c := dialed(t, ctx)
		servers, conns = append(servers, s), append(conns, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*sessions)
	for k := range sessions {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range msgs {
				if err := servers[k].sess.Send(false, eio.Packet{Type: eio.Message, Data: fmt.Appendf(nil, "%d", i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range msgs {
				_, b, err := conns[k].Read(ctx)
				if err != nil || string(b) != fmt.Sprintf("4%d", i) {
					errs <- fmt.Errorf("session %d: read %q %v, want 4%d", k, b, err, i)
					return
				}
			}
			// Half the sessions end while the others still write.
			if k%2 == 0 {
				servers[k].d.Abort()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if idle, _, _ := transport.WriterWorkers(); idle > 256 {
		t.Errorf("%d workers parked, more than the bound", idle)
	}
	for _, s := range servers {
		s.stop(t)
	}
	waitWriters(t)
}
