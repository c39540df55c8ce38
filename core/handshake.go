package core

import (
	"context"
	"net/url"
	"time"

	"github.com/sio-go/sio/core/sio"
)

// Header is a set of request headers keyed by canonical name, as the
// standard library's http.Header (convert with Header(h)).
type Header map[string][]string

// Get returns the first value of the header named key, matched without
// regard to case.
func (h Header) Get(key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	for k, v := range h {
		if len(v) > 0 && equalFold(k, key) {
			return v[0]
		}
	}
	return ""
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Handshake is what a middleware knows of a client: the HTTP request that
// opened the Engine.IO session, and the auth payload of the namespace
// connect.
type Handshake struct {
	Header  Header
	Query   url.Values
	Address string    // the remote address
	Secure  bool      // the request came over TLS
	XDomain bool      // the request carried an Origin header
	URL     string    // the request URI
	Time    time.Time // when the session opened
	// Context is the opening request's context: the values that router
	// middlewares put there stay readable (its cancellation is the
	// request's, long over once sockets connect). Never nil.
	Context context.Context
	// Auth is the JSON the client sent with its namespace connect
	// (absent: Auth.JSON is nil). Bind it with Auth.Bind.
	Auth sio.Raw
}
