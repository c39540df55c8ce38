package core

import (
	"runtime"
	"testing"
	"time"

	"github.com/sio-go/sio/core/eio"
)

// retainedPerConn builds n idle connections with open, keeping them
// alive, and returns the heap they retain each, measured after a GC
// before and after. hold is allocated before the first reading so that
// it does not count.
func retainedPerConn(n int, open func(i int) any) float64 {
	hold := make([]any, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range hold {
		hold[i] = open(i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(hold)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

// openIdle opens a WebSocket session on srv, connects it to "/" and takes
// every frame the server queued, as a transport does: the connection then
// sits idle.
func openIdle(tb testing.TB, srv *Server, hs Handshake, now time.Time, out []eio.Packet) *Conn {
	c, err := srv.NewConn(eio.WebSocket, hs, now, nil)
	if err != nil {
		tb.Fatal(err)
	}
	out = c.TakeOutput(out[:0])
	if err := c.HandleFrame(now, []byte("40"), false); err != nil {
		tb.Fatal(err)
	}
	out = c.TakeOutput(out[:0])
	if len(out) != 1 || len(out[0].Data) < 2 || out[0].Data[0] != '0' {
		tb.Fatalf("connect answer %v", out)
	}
	return c
}

// BenchmarkIdleConn measures what core keeps per idle WebSocket connection
// joined to "/" (Conn, Engine.IO session, Socket, the namespace's and the
// adapter's entries), with an empty handshake: B/conn is the heap retained
// per connection, allocs/op and B/op what opening one costs. Run with a
// fixed count, for example -benchtime=10000x.
func BenchmarkIdleConn(b *testing.B) {
	srv := NewServer(Config{})
	now := time.Unix(1_000_000, 0)
	out := make([]eio.Packet, 0, 4)
	b.ReportAllocs()
	per := retainedPerConn(b.N, func(int) any { return openIdle(b, srv, Handshake{}, now, out) })
	b.ReportMetric(per, "B/conn")
	b.StopTimer()
	srv.Close()
}
