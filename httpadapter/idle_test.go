package httpadapter

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"slices"
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

// TestHandshakeOf: the handshake a connection keeps has every header of
// its request, Host included as in the reference's, and its URI, query
// and address; the request is left as it was.
func TestHandshakeOf(t *testing.T) {
	for _, c := range []struct{ uri, query string }{
		{"/socket.io/?EIO=4&transport=websocket", "EIO=4&transport=websocket"},
		{"/socket.io/?EIO=4&transport=polling&t=a%3Fb", "EIO=4&transport=polling&t=a%3Fb"},
		{"/socket.io/", ""},
		{"http://example.com/socket.io/?EIO=4", "EIO=4"},
	} {
		raw := "GET " + c.uri + " HTTP/1.1\r\nHost: example.com\r\nOrigin: http://example.com\r\n" +
			"Cookie: a=1\r\nCookie: b=2\r\nX-Custom-Thing: yes\r\nUser-Agent: test\r\n\r\n"
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		r.RemoteAddr = "192.0.2.7:4321"
		now := time.Unix(1_000_000, 0)
		hs := handshakeOf(r, now)
		if hs.URL != c.uri || hs.RawQuery != c.query || hs.RawQuery != r.URL.RawQuery ||
			hs.Address != "192.0.2.7" || !hs.XDomain || hs.Secure || !hs.Time.Equal(now) {
			t.Errorf("%s: handshake %+v", c.uri, hs)
		}
		want := maps.Clone(map[string][]string(r.Header))
		want["Host"] = []string{"example.com"}
		if got := hs.Header.Map(); len(got) != len(want) {
			t.Errorf("%s: headers %q, want %q", c.uri, got, want)
		}
		for k, vs := range want {
			if got := hs.Header.Values(strings.ToLower(k)); !slices.Equal(got, vs) {
				t.Errorf("%s: header %s: %q, want %q", c.uri, k, got, vs)
			}
		}
		if hs.Header.Get("x-custom-thing") != "yes" || hs.Header.Get("host") != "example.com" || r.Header.Get("Host") != "" {
			t.Errorf("%s: headers %q", c.uri, hs.Header.Map())
		}
	}
}
