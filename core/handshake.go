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

// Query returns the parsed query of the opening request (parsed at each
// call: a connection keeps only the string).
func (h *Handshake) Query() url.Values {
	q, _ := url.ParseQuery(h.RawQuery)
	return q
}

// Handshake is what a middleware knows of a client: the HTTP request that
// opened the Engine.IO session, and the auth payload of the namespace
// connect.
type Handshake struct {
	Header Header
	// RawQuery is the query string of the opening request; Query parses it.
	RawQuery string
	Address  string    // the remote address
	Secure   bool      // the request came over TLS
	XDomain  bool      // the request carried an Origin header
	URL      string    // the request URI
	Time     time.Time // when the session opened
	// Context is the opening request's context when the adapter keeps it
	// (httpadapter's KeepRequestContext): the values that router
	// middlewares put there stay readable, its cancellation does not
	// apply. Otherwise, and never nil, context.Background().
	Context context.Context
	// Auth is the JSON the client sent with its namespace connect
	// (absent: Auth.JSON is nil). Bind it with Auth.Bind.
	Auth sio.Raw
}
