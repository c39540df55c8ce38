//go:build !js

package transport

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core/eio"
)

// TestWriteFramesLengths: data frames written by the server reach a
// standard WebSocket client intact at every length encoding boundary
// (7-bit, 16-bit, 64-bit), batched in one write, with and without
// per-message compression.
func TestWriteFramesLengths(t *testing.T) {
	sizes := []int{0, 1, 124, 125, 126, 127, 65535, 65536, 70000}
	var pkts []eio.Packet
	for i, n := range sizes {
		data := bytes.Repeat([]byte{byte('a' + i%26)}, n)
		// Text packets carry their type digit: n+1 bytes on the wire.
		pkts = append(pkts, eio.Packet{Type: eio.Message, Data: data})
		pkts = append(pkts, eio.Packet{Type: eio.Message, Binary: true, Data: data})
	}
	for _, compress := range []bool{false, true} {
		name := "plain"
		if compress {
			name = "deflate"
		}
		t.Run(name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ws, err := AcceptWebSocket(w, r, AcceptOptions{Compression: compress})
				if err != nil {
					t.Error(err)
					return
				}
				if ws.deflate != compress {
					t.Errorf("deflate negotiated = %v, want %v", ws.deflate, compress)
				}
				d := &Driver{}
				wr := &wsWriter{d: d, ws: ws}
				b := &writeBufs{pkts: append([]eio.Packet(nil), pkts...)}
				if err := wr.write(b); err != nil {
					t.Error(err)
				}
				ws.closeWith(websocket.StatusNormalClosure)
			}))
			defer ts.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			mode := websocket.CompressionDisabled
			if compress {
				mode = websocket.CompressionContextTakeover
			}
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http"), &websocket.DialOptions{CompressionMode: mode})
			if err != nil {
				t.Fatal(err)
			}
			c.SetReadLimit(1 << 20)
			defer c.CloseNow()
			for i, p := range pkts {
				typ, got, err := c.Read(ctx)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				want, bin := eio.AppendFrame(nil, p)
				if (typ == websocket.MessageBinary) != bin || !bytes.Equal(got, want) {
					t.Fatalf("message %d: type %v, %d bytes; want binary=%v, %d bytes", i, typ, len(got), bin, len(want))
				}
			}
		})
	}
}
