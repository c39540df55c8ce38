package httpadapter

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/transport"
)

// Server is a Socket.IO server as an http.Handler. It embeds the core
// server, whose Of, OfFunc and OfRegexp declare namespaces.
type Server struct {
	*core.Server
	rt *router

	tmu    sync.Mutex
	timer  *time.Timer
	closed bool

	handlers liveCount // goroutines running application code
}

// New makes a Server.
func New(opts Options) *Server {
	cfg := opts.normalize()
	s := &Server{}
	s.Server = core.NewServer(core.Config{
		Engine:               cfg.engine(),
		ConnectTimeout:       cfg.ConnectTimeout,
		Limits:               cfg.Limits,
		MaxNamespacesPerConn: cfg.MaxNamespacesPerConn,
		Clock:                cfg.Clock,
		Wake:                 s.rearm,
		Adapter:              cfg.Adapter,
		Logger:               cfg.Logger,
		Go:                   s.spawn,
		Inbox:                cfg.Inbox,
	})
	s.tmu.Lock()
	s.timer = time.AfterFunc(time.Hour, s.tick)
	s.tmu.Unlock()
	s.rearm()
	s.rt = newRouter(cfg, func(t eio.Transport, r *http.Request, now time.Time, wake func()) (transport.Conn, error) {
		hs := handshakeOf(r, now)
		if cfg.KeepRequestContext {
			hs.Context = context.WithoutCancel(r.Context())
		}
		return s.Server.NewConn(t, hs, now, wake)
	})
	s.rt.run, s.rt.track = s.spawn, s.handlers.Add
	return s
}

// handshakeOf is what a connection keeps of the request that opened it,
// for its lifetime. The headers are copied into a compact core.Header; the
// URI is copied out of the request line, of which r.RequestURI and
// r.URL.RawQuery are slices, and the query is taken from that copy when it
// is the same text. The Host header, which net/http moves to r.Host, is
// among the headers, as in the reference's handshake.
func handshakeOf(r *http.Request, now time.Time) core.Handshake {
	uri := strings.Clone(r.RequestURI)
	query := r.URL.RawQuery
	if _, q, ok := strings.Cut(uri, "?"); ok && q == query {
		query = q
	} else {
		query = strings.Clone(query)
	}
	header := r.Header
	if _, ok := header["Host"]; !ok && r.Host != "" {
		// net/http moves the Host header to r.Host; the reference's
		// handshake lists it among the headers.
		header = maps.Clone(header)
		header["Host"] = []string{r.Host}
	}
	return core.Handshake{
		Header:   core.MakeHeader(header),
		RawQuery: query,
		Address:  remoteAddr(r),
		Secure:   r.TLS != nil,
		XDomain:  r.Header.Get("Origin") != "",
		URL:      uri,
		Time:     now,
	}
}

// Path is where the server serves requests, such as "/socket.io/".
func (s *Server) Path() string { return s.rt.cfg.Path }

// ServeHTTP serves the requests under the path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.rt.ServeHTTP(w, r) }

// spawn runs application code (a socket's handlers while it has events
// waiting, a broadcast's ack callback) on a goroutine of its own, which
// ends with the work.
func (s *Server) spawn(fn func()) {
	s.handlers.Add(1)
	go s.runHandlers(fn) // a call, not a closure: no allocation
}

func (s *Server) runHandlers(fn func()) {
	defer s.handlers.Done()
	fn()
}

// Close shuts the server down gracefully: no new sessions; every client is
// told (a close packet on polling, a close frame on WebSocket) and every
// socket disconnects with "server shutting down"; Close returns when every
// session's goroutines and every handler have ended (the disconnect
// handlers included), or when ctx ends, after aborting the sessions left;
// a handler still blocked then is left to finish on its own.
func (s *Server) Close(ctx context.Context) error {
	err := s.rt.shutdown(ctx, s.Server.Close)
	s.tmu.Lock()
	s.closed = true
	s.timer.Stop()
	s.tmu.Unlock()
	select {
	case <-s.handlers.idle():
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// tick runs the server-wide timers (broadcast ack timeouts).
func (s *Server) tick() {
	s.Server.HandleTimeout(s.rt.cfg.Clock())
	s.rearm()
}

func (s *Server) rearm() {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if s.timer == nil || s.closed || s.Server == nil {
		return
	}
	t, ok := s.Server.Deadline()
	if !ok {
		s.timer.Stop()
		return
	}
	s.timer.Reset(max(t.Sub(s.rt.cfg.Clock()), 0))
}

// liveCount counts goroutines that may start at any time, even while
// Close waits for them (a timer closing a socket during shutdown starts its
// disconnect handlers), which a sync.WaitGroup does not allow.
type liveCount struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0; nil when none waits
}

// Add adds delta to the count.
func (c *liveCount) Add(delta int) {
	c.mu.Lock()
	c.n += delta
	if c.n == 0 && c.zero != nil {
		close(c.zero)
		c.zero = nil
	}
	c.mu.Unlock()
}

// Done is Add(-1).
func (c *liveCount) Done() { c.Add(-1) }

// idle returns a channel closed once the count is zero.
func (c *liveCount) idle() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		done := make(chan struct{})
		close(done)
		return done
	}
	if c.zero == nil {
		c.zero = make(chan struct{})
	}
	return c.zero
}
