//go:build js

package transport

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core/eio"
)

// newHTTPTransport is the transport of a client's own HTTP client: with no
// dialer of its own, its requests go through the browser's fetch.
func newHTTPTransport() *http.Transport { return &http.Transport{} }

// dialWS opens a WebSocket for session sid ("" for a new session) with the
// browser's WebSocket, which sends the browser's own headers and cookies:
// ClientOptions.Header and HTTPClient do not apply to it, and a refusal
// has no HTTP status to report.
func (r *engineRun) dialWS(ctx context.Context, sid string) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, r.c.engineURL(eio.WebSocket, sid), nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(-1) // readMessage enforces MaxPayload itself
	return ws, nil
}
