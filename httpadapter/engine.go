package httpadapter

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/transport"
)

// connFactory makes the session of a new handshake.
type connFactory func(t eio.Transport, r *http.Request, now time.Time, wake func()) (transport.Conn, error)

// router serves the Engine.IO requests under a path for sessions made by
// newConn: handshakes, polls, posts, WebSockets and upgrades.
type router struct {
	cfg     config
	newConn connFactory

	mu      sync.Mutex
	drivers map[string]*transport.Driver
	closing bool
	wg      sync.WaitGroup // one per live driver

	// run and track give the drivers the Server's goroutines for
	// application code (nil for a raw Engine: the transport's defaults).
	run   func(fn func())
	track func(delta int)
}

func newRouter(cfg config, f connFactory) *router {
	return &router{cfg: cfg, newConn: f, drivers: make(map[string]*transport.Driver)}
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := &rt.cfg
	if !strings.HasPrefix(r.URL.Path, cfg.Path) && r.URL.Path+"/" != cfg.Path {
		http.NotFound(w, r)
		return
	}
	if cfg.CORS != nil {
		if r.Method == http.MethodOptions {
			cfg.CORS.preflight(w, r)
			return
		}
		cfg.CORS.apply(w.Header(), r)
	}
	q := r.URL.Query()
	t, ok := eio.ParseTransport(q.Get("transport"))
	if !ok || (t == eio.Polling && !cfg.polling) || (t == eio.WebSocket && !cfg.websocket) {
		writeError(w, r, codeUnknownTransport, "")
		return
	}
	sid := q.Get("sid")
	if sid == "" {
		rt.handshake(w, r, t, q.Get("EIO"))
		return
	}
	rt.mu.Lock()
	d := rt.drivers[sid]
	rt.mu.Unlock()
	// A closed session is forgotten as soon as no poll may still collect
	// its last packets, as in the reference.
	if d == nil || d.Gone() {
		writeError(w, r, codeUnknownSID, "")
		return
	}
	if q.Get("EIO") != "4" {
		writeError(w, r, codeBadRequest, "")
		return
	}
	if t == eio.WebSocket {
		if !isUpgrade(r) || !cfg.upgrades {
			writeError(w, r, codeBadRequest, "")
			return
		}
		if d.Conn().Transport() != eio.Polling || d.Conn().Upgrading() {
			// A second WebSocket for a session that is on WebSocket or
			// upgrading: the reference accepts it, then closes it.
			rt.refuseWebSocket(w, r)
			return
		}
		ws, err := rt.accept(w, r)
		if err != nil {
			return
		}
		// The handler returns: the request and net/http's buffers go,
		// and the WebSocket runs on a goroutine of its own.
		go d.ServeProbe(ws)
		return
	}
	var err error
	switch r.Method {
	case http.MethodGet:
		err = d.ServePoll(w, r)
	case http.MethodPost:
		err = d.ServePost(w, r)
	default:
		writeStatus(w, http.StatusInternalServerError)
		return
	}
	switch {
	case err == nil:
	case errors.Is(err, transport.ErrSessionGone):
		writeError(w, r, codeUnknownSID, "")
	case errors.Is(err, transport.ErrPostDropped):
		// Dropped without an answer, as the reference does.
		if c, _, herr := http.NewResponseController(w).Hijack(); herr == nil {
			_ = c.Close()
		} else {
			writeStatus(w, http.StatusBadRequest)
		}
	case errors.Is(err, transport.ErrWrongTransport):
		writeError(w, r, codeBadRequest, "")
	case errors.Is(err, transport.ErrBodyTooLarge):
		writeStatus(w, http.StatusRequestEntityTooLarge)
	default:
		writeStatus(w, http.StatusBadRequest)
	}
}

func (rt *router) handshake(w http.ResponseWriter, r *http.Request, t eio.Transport, version string) {
	cfg := &rt.cfg
	// The reference's order: the request checks (method, upgrade,
	// AllowRequest), then the protocol version.
	if r.Method != http.MethodGet {
		writeError(w, r, codeBadHandshakeMethod, "")
		return
	}
	if t == eio.WebSocket && !isUpgrade(r) {
		writeError(w, r, codeBadRequest, "")
		return
	}
	if cfg.AllowRequest != nil {
		if err := cfg.AllowRequest(r); err != nil {
			writeError(w, r, codeForbidden, err.Error())
			return
		}
	}
	if version != "4" {
		writeError(w, r, codeUnsupportedVersion, "")
		return
	}
	var sid string
	d := transport.NewDriver(transport.Options{
		Clock:      cfg.Clock,
		MaxPayload: cfg.MaxHTTPBufferSize,
		Logger:     cfg.Logger,
		Go:         rt.run,
		Track:      rt.track,
		OnDone: func() {
			rt.mu.Lock()
			delete(rt.drivers, sid)
			rt.mu.Unlock()
			rt.wg.Done()
		},
	})
	rt.mu.Lock()
	if rt.closing {
		rt.mu.Unlock()
		writeStatus(w, http.StatusServiceUnavailable)
		return
	}
	rt.wg.Add(1)
	rt.mu.Unlock()
	c, err := rt.newConn(t, r, cfg.Clock(), d.Wake)
	if err != nil {
		rt.wg.Done()
		writeStatus(w, http.StatusServiceUnavailable)
		return
	}
	sid = c.SID()
	rt.mu.Lock()
	rt.drivers[sid] = d
	rt.mu.Unlock()
	d.Attach(c)
	cfg.Logger.Debug("sio: handshake", "sid", sid, "transport", t, "remote", r.RemoteAddr)
	if t == eio.WebSocket {
		ws, err := rt.accept(w, r)
		if err != nil {
			c.HandleTransportClose(cfg.Clock(), err)
			d.Wake()
			return
		}
		go d.ServeWebSocket(ws)
		return
	}
	if cfg.Cookie != nil {
		http.SetCookie(w, cfg.Cookie.cookie(sid))
	}
	if err := d.ServePoll(w, r); err != nil {
		writeStatus(w, http.StatusBadRequest)
	}
}

// refuseWebSocket accepts a WebSocket and closes it at once with a close
// frame with no status, as the reference does with a second WebSocket for
// a session. The close handshake runs on a goroutine that shutdown waits
// for.
func (rt *router) refuseWebSocket(w http.ResponseWriter, r *http.Request) {
	rt.mu.Lock()
	if rt.closing {
		rt.mu.Unlock()
		writeStatus(w, http.StatusServiceUnavailable)
		return
	}
	rt.wg.Add(1)
	rt.mu.Unlock()
	ws, err := rt.accept(w, r)
	if err != nil {
		rt.wg.Done()
		return
	}
	go func() {
		defer rt.wg.Done()
		ws.CloseNoStatus()
	}()
}

func (rt *router) accept(w http.ResponseWriter, r *http.Request) (*transport.WebSocket, error) {
	return transport.AcceptWebSocket(w, r, transport.AcceptOptions{Compression: rt.cfg.PerMessageDeflate, MaxMessageBytes: rt.cfg.MaxHTTPBufferSize})
}

func (c *CookieOptions) cookie(sid string) *http.Cookie {
	k := &http.Cookie{Name: c.Name, Value: sid, Path: c.Path, HttpOnly: true, Secure: c.Secure, SameSite: c.SameSite}
	if k.Name == "" {
		k.Name = "io"
	}
	if k.Path == "" {
		k.Path = "/"
	}
	if c.HTTPOnly != nil {
		k.HttpOnly = *c.HTTPOnly
	}
	if k.SameSite == 0 {
		k.SameSite = http.SameSiteLaxMode
	}
	if c.MaxAge > 0 {
		k.MaxAge = int(c.MaxAge.Seconds())
	}
	return k
}

// shutdown stops new handshakes, then waits for every driver to finish
// until ctx ends, when the remaining ones are aborted.
func (rt *router) shutdown(ctx context.Context, closeAll func()) error {
	rt.mu.Lock()
	rt.closing = true
	rt.mu.Unlock()
	closeAll()
	rt.mu.Lock()
	for _, d := range rt.drivers {
		d.Shutdown()
	}
	rt.mu.Unlock()
	done := make(chan struct{})
	go func() {
		rt.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	rt.mu.Lock()
	ds := make([]*transport.Driver, 0, len(rt.drivers))
	for _, d := range rt.drivers {
		ds = append(ds, d)
	}
	rt.mu.Unlock()
	for _, d := range ds {
		d.Abort()
	}
	<-done
	return ctx.Err()
}

// remoteAddr is the request's remote address without its port.
func remoteAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
