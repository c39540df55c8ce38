//go:build !js

package transport

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core/eio"
)

// newHTTPTransport is the transport of a client's own HTTP client.
func newHTTPTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     false, // WebSocket handshakes need HTTP/1.1
		MaxIdleConns:          4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// dialWS opens a WebSocket for session sid ("" for a new session).
func (r *engineRun) dialWS(ctx context.Context, sid string) (*websocket.Conn, error) {
	var h http.Header
	if len(r.c.opts.Header) > 0 {
		h = r.c.opts.Header.Clone()
	}
	ws, resp, err := websocket.Dial(ctx, r.c.engineURL(eio.WebSocket, sid), &websocket.DialOptions{
		HTTPClient:      r.c.httpc,
		HTTPHeader:      h,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, httpError(resp)
		}
		return nil, err
	}
	ws.SetReadLimit(-1) // readMessage enforces MaxPayload itself
	return ws, nil
}
