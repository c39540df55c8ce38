package httpadapter

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/eio"
)

// The opening requests of the two kinds of client, as they come on the
// wire: the Node.js client (its WebSocket library's headers) and a
// browser's. %s is the WebSocket key, which differs per connection.
var idleRequests = []struct{ name, req string }{
	{"node", "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: %s\r\n" +
		"Connection: Upgrade\r\n" +
		"Upgrade: websocket\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
		"Host: 127.0.0.1:3000\r\n\r\n"},
	{"browser", "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n" +
		"Host: localhost:3000\r\n" +
		"Connection: Upgrade\r\n" +
		"Pragma: no-cache\r\n" +
		"Cache-Control: no-cache\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n" +
		"Upgrade: websocket\r\n" +
		"Origin: http://localhost:3000\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\n" +
		"Cookie: session=0123456789abcdef0123456789abcdef\r\n" +
		"Sec-WebSocket-Key: %s\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"},
}

// BenchmarkIdleConn measures the heap kept per idle WebSocket connection
// joined to "/", built as the server builds it: the request parsed by
// net/http, the handshake made of it, the session opened and the CONNECT
// answered through the Server's own goroutines. B/conn is the heap
// retained per connection (the transport's goroutine and buffers are not
// in it); allocs/op and B/op what opening one costs. Run with a fixed
// count: go test -run '^$' -bench IdleConn -benchmem -benchtime=10000x.
func BenchmarkIdleConn(b *testing.B) {
	for _, rq := range idleRequests {
		b.Run(rq.name, func(b *testing.B) {
			srv := New(Options{})
			defer srv.Close(context.Background())
			woken := make(chan struct{}, 1)
			wake := func() {
				select {
				case woken <- struct{}{}:
				default:
				}
			}
			out := make([]eio.Packet, 0, 4)
			open := func(i int) any {
				raw := fmt.Sprintf(rq.req, fmt.Sprintf("dGhlIHNhbXBsZSBub25jZQ%02d", i%100))
				r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
				if err != nil {
					b.Fatal(err)
				}
				r.RemoteAddr = "127.0.0.1:54321"
				now := time.Now()
				tc, err := srv.rt.newConn(eio.WebSocket, r, now, wake)
				if err != nil {
					b.Fatal(err)
				}
				c := tc.(*core.Conn)
				out = c.TakeOutput(out[:0])
				if err := c.HandleFrame(now, []byte("40"), false); err != nil {
					b.Fatal(err)
				}
				// The CONNECT is answered on a goroutine of the Server's.
				for {
					if out = c.TakeOutput(out[:0]); len(out) > 0 {
						break
					}
					<-woken
				}
				if len(out) != 1 || len(out[0].Data) < 2 || out[0].Data[0] != '0' {
					b.Fatalf("connect answer %v", out)
				}
				return c
			}
			b.ReportAllocs()
			b.ReportMetric(retainedPerConn(b.N, open), "B/conn")
		})
	}
}

// retainedPerConn builds n connections with open, keeping them alive, and
// returns the heap they retain each, read after a GC before and after.
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
