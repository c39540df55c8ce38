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

// openIdle opens a session on srv, over WebSocket or, with upgrade, over
// polling then upgraded to WebSocket as the clients do by default,
// connects it to "/" and takes every frame the server queued, as a
// transport does: the connection then sits idle.
func openIdle(tb testing.TB, srv *Server, hs Handshake, now time.Time, out []eio.Packet, upgrade bool) *Conn {
	t := eio.WebSocket
	if upgrade {
		t = eio.Polling
	}
	c, err := srv.NewConn(t, hs, now, nil)
	if err != nil {
		tb.Fatal(err)
	}
	out = c.TakeOutput(out[:0])
	if upgrade {
		if err := c.StartProbe(now); err != nil {
			tb.Fatal(err)
		}
		if err := c.HandleProbeFrame(now, []byte("2probe"), false); err != nil {
			tb.Fatal(err)
		}
		if out = c.TakeProbeOutput(out[:0]); len(out) != 1 {
			tb.Fatalf("probe answer %v", out)
		}
		out = c.TakeOutput(out[:0]) // the noop that ends the pending poll
		if err := c.HandleProbeFrame(now, []byte("5"), false); err != nil {
			tb.Fatal(err)
		}
		if c.Transport() != eio.WebSocket {
			tb.Fatal("not upgraded")
		}
	}
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
// adapter's entries), with an empty handshake: opened over WebSocket, or
// over polling and upgraded. B/conn is the heap retained per connection,
// allocs/op and B/op what opening one costs. Run with a fixed count:
// go test -run '^$' -bench IdleConn -benchmem -benchtime=10000x.
func BenchmarkIdleConn(b *testing.B) {
	for _, upgrade := range []bool{false, true} {
		name := "websocket"
		if upgrade {
			name = "upgraded"
		}
		b.Run(name, func(b *testing.B) {
			srv := NewServer(Config{Engine: eio.Config{AllowUpgrades: true}})
			defer srv.Close()
			now := time.Unix(1_000_000, 0)
			out := make([]eio.Packet, 0, 4)
			b.ReportAllocs()
			per := retainedPerConn(b.N, func(int) any { return openIdle(b, srv, Handshake{}, now, out, upgrade) })
			b.ReportMetric(per, "B/conn")
		})
	}
}
