package httpadapter

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/transport"
)

// Engine serves raw Engine.IO sessions, without Socket.IO on top: open,
// text and binary messages both ways, close. It takes the same Options
// (the Socket.IO-only ones are ignored) and mounts at any path.
type Engine struct {
	rt     *router
	onConn func(*EngineSocket)

	mu      sync.Mutex
	sockets map[string]*EngineSocket
}

// NewEngine makes an Engine that calls onConnection for each new session,
// before any of its messages: set the socket's handlers there.
func NewEngine(opts Options, onConnection func(*EngineSocket)) *Engine {
	cfg := opts.normalize()
	e := &Engine{onConn: onConnection, sockets: make(map[string]*EngineSocket)}
	ecfg := cfg.engine()
	e.rt = newRouter(cfg, func(t eio.Transport, r *http.Request, now time.Time, wake func()) (transport.Conn, error) {
		s := &EngineSocket{engine: e, Header: r.Header, Query: r.URL.Query(), RemoteAddr: remoteAddr(r)}
		s.conn = core.NewEngineConn(core.RandomID(), ecfg, t, now, wake, (*engineEvents)(s))
		s.conn.SetTrace(cfg.Logger)
		e.mu.Lock()
		e.sockets[s.conn.SID()] = s
		e.mu.Unlock()
		if e.onConn != nil {
			e.onConn(s)
		}
		return s.conn, nil
	})
	return e
}

// Path is where the engine serves requests.
func (e *Engine) Path() string { return e.rt.cfg.Path }

// ServeHTTP serves the requests under the path.
func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.rt.ServeHTTP(w, r) }

// Close closes every session ("forced close") and returns when their
// goroutines have ended, or when ctx ends, after aborting those left.
func (e *Engine) Close(ctx context.Context) error {
	return e.rt.shutdown(ctx, func() {
		e.mu.Lock()
		list := make([]*EngineSocket, 0, len(e.sockets))
		for _, s := range e.sockets {
			list = append(list, s)
		}
		e.mu.Unlock()
		for _, s := range list {
			s.Close()
		}
	})
}

// EngineSocket is one raw Engine.IO session.
type EngineSocket struct {
	engine *Engine
	conn   *core.EngineConn

	// The handshake request.
	Header     http.Header
	Query      url.Values
	RemoteAddr string

	mu        sync.Mutex
	onMessage func(data []byte, binary bool)
	onClose   func(reason string, cause error)
}

// ID is the session id.
func (s *EngineSocket) ID() string { return s.conn.SID() }

// Transport is the transport in use: "polling" or "websocket".
func (s *EngineSocket) Transport() string { return s.conn.Transport().String() }

// OnMessage sets the handler of the peer's messages. It runs on the
// goroutine that read the message; messages are handled in order.
func (s *EngineSocket) OnMessage(fn func(data []byte, binary bool)) {
	s.mu.Lock()
	s.onMessage = fn
	s.mu.Unlock()
}

// OnClose sets the handler of the session's end, with the reason
// ("transport close", "ping timeout", ...) and its cause if any.
func (s *EngineSocket) OnClose(fn func(reason string, cause error)) {
	s.mu.Lock()
	s.onClose = fn
	s.mu.Unlock()
}

// Send sends a text message.
func (s *EngineSocket) Send(data []byte) error {
	return s.conn.Send(false, eio.Packet{Type: eio.Message, Data: data})
}

// SendBinary sends a binary message.
func (s *EngineSocket) SendBinary(data []byte) error {
	return s.conn.Send(false, eio.Packet{Type: eio.Message, Binary: true, Data: data})
}

// Close closes the session ("forced close").
func (s *EngineSocket) Close() { s.conn.Close(eio.ReasonForcedClose) }

// engineEvents is the EngineHandler of an EngineSocket.
type engineEvents EngineSocket

func (h *engineEvents) OnMessage(_ time.Time, p eio.Packet) {
	h.mu.Lock()
	fn := h.onMessage
	h.mu.Unlock()
	if fn != nil {
		fn(p.Data, p.Binary)
	}
}

func (h *engineEvents) OnClose(r eio.Reason, cause error) {
	e := h.engine
	e.mu.Lock()
	delete(e.sockets, h.conn.SID())
	e.mu.Unlock()
	h.mu.Lock()
	fn := h.onClose
	h.mu.Unlock()
	if fn != nil {
		fn(r.String(), cause)
	}
}

func (h *engineEvents) OnTimeout(time.Time) {}

func (h *engineEvents) Deadline() (time.Time, bool) { return time.Time{}, false }
