package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/client"
	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// ClientOptions configure a Client. Names and defaults are the reference
// client's; the zero value of a field means its default.
type ClientOptions struct {
	// Path of the Engine.IO endpoint on the server. Default "/socket.io/".
	Path string
	// Transports to use, of "polling" and "websocket": the first is the
	// one every connection starts on. Default ["polling", "websocket"].
	Transports []string
	// Upgrade lets a polling connection upgrade to WebSocket when the
	// server offers it and Transports lists "websocket". Default true.
	Upgrade *bool
	// Query is added to every request.
	Query url.Values
	// Header is added to every request, the WebSocket handshake included
	// (under js/wasm, polling requests only: a browser's WebSocket sends
	// its own headers and cookies).
	Header http.Header
	// HTTPClient makes the requests, and the WebSocket handshakes (not
	// under js/wasm); its Timeout must be zero (long polls last a
	// heartbeat). Default: a client of its own, whose idle connections
	// Close closes; under js/wasm its requests go through fetch.
	HTTPClient *http.Client
	// Timeout bounds each connection attempt, up to the server's
	// handshake. Default 20s.
	Timeout time.Duration
	// AckTimeout is the deadline of the acks of emits with no Timeout of
	// their own. Default none.
	AckTimeout time.Duration
	// Reconnection reconnects when a connection is lost. Default true.
	Reconnection *bool
	// ReconnectionAttempts before giving up. Default 0: unlimited.
	ReconnectionAttempts int
	// ReconnectionDelay is the first delay before reconnecting; it doubles
	// with each attempt. Default 1s.
	ReconnectionDelay time.Duration
	// ReconnectionDelayMax caps the delay. Default 5s.
	ReconnectionDelayMax time.Duration
	// RandomizationFactor is the jitter of the delay, in [0, 1]. Default
	// 0.5; negative for none.
	RandomizationFactor float64
	// MaxPayload bounds a polling response body or a WebSocket message from
	// the server, in bytes. Default 1e6.
	MaxPayload int
	// Limits bound the Socket.IO packets the server sends (attachments,
	// JSON depth).
	Limits sio.Limits
	// MaxQueuedPackets and MaxQueuedBytes bound the output queue: past them
	// a volatile emit is dropped, and any other closes the connection as
	// with a slow server. Defaults 10,000 and 16 MiB.
	MaxQueuedPackets int
	MaxQueuedBytes   int
	// MaxBufferedPackets bounds, per socket, the events emitted while it is
	// not connected. Default 1,000.
	MaxBufferedPackets int
	// UpgradeTimeout bounds an upgrade to WebSocket. Default 10s.
	UpgradeTimeout time.Duration
	// WriteTimeout bounds one polling request that sends, one WebSocket
	// write, and the flush of a closing connection. Default 10s.
	WriteTimeout time.Duration
	// Logger receives debug logs. Default slog.Default().
	Logger *slog.Logger
}

// Bool returns a pointer to b, for the options that default to true.
func Bool(b bool) *bool { return &b }

// HTTPError is an HTTP request the server refused: its status, and the
// Engine.IO error code (-1 when absent) and message it answered with.
type HTTPError struct {
	StatusCode int
	Code       int
	Message    string
}

func (e *HTTPError) Error() string {
	s := "transport: HTTP " + strconv.Itoa(e.StatusCode)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// maxErrorBody bounds what is read of a refusal's body.
const maxErrorBody = 4 << 10

func httpError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &HTTPError{StatusCode: resp.StatusCode, Code: -1}
	var w struct {
		Code    *int   `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &w) == nil && w.Code != nil {
		e.Code, e.Message = *w.Code, w.Message
	} else {
		e.Message = strings.TrimSpace(string(b))
	}
	return e
}

// ClientEvent is an event received from the server.
type ClientEvent = client.Event

// Client is a Socket.IO client: one connection to a server (an Engine.IO
// session at a time, reconnected as the options say) and the sockets it
// carries, one per namespace. Its goroutines (a timer, and per session a
// reader and a writer) live until Close.
type Client struct {
	opts    ClientOptions
	base    url.URL
	initial eio.Transport
	upgrade bool
	m       *client.Manager
	httpc   *http.Client
	ownTr   *http.Transport
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wakeCh chan struct{}
	wg     sync.WaitGroup // every goroutine of the client

	// wmu guards runs; it is taken by wake, under the manager's locks, so
	// nothing is called while it is held.
	wmu     sync.Mutex
	runs    map[*engineRun]struct{}
	runDone chan struct{}

	closeOnce sync.Once

	smu     sync.Mutex
	sockets map[*client.Socket]*ClientSocket
}

// Dial connects to the Socket.IO server at rawURL (http, https, ws or wss,
// with no path: the Engine.IO path is ClientOptions.Path, and namespaces
// are given to Socket) and waits for the Engine.IO handshake. On error
// the client is closed. opts may be nil.
//
// The client also runs in a browser, built with GOOS=js GOARCH=wasm, on
// both transports: WebSocket is then the browser's, and polling goes
// through fetch (a server of another origin must allow it by CORS).
func Dial(ctx context.Context, rawURL string, opts *ClientOptions) (*Client, error) {
	c, err := NewClient(rawURL, opts)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// NewClient makes a client for the server at rawURL (see Dial) without
// connecting: Connect, or a socket's Connect, opens the connection. Close
// it to stop its goroutines.
func NewClient(rawURL string, opts *ClientOptions) (*Client, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("transport: url scheme %q: want http, https, ws or wss", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("transport: url without host")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("transport: url path %q: give the namespace to Socket and the Engine.IO path in ClientOptions.Path", u.Path)
	}
	if o.Path == "" {
		o.Path = "/socket.io/"
	}
	if !strings.HasPrefix(o.Path, "/") {
		o.Path = "/" + o.Path
	}
	if !strings.HasSuffix(o.Path, "/") {
		o.Path += "/"
	}
	q := u.Query()
	for k, vs := range o.Query {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	for _, k := range []string{"EIO", "transport", "sid"} {
		q.Del(k)
	}
	o.Query = q
	if len(o.Transports) == 0 {
		o.Transports = []string{"polling", "websocket"}
	}
	var ts []eio.Transport
	for _, name := range o.Transports {
		t, ok := eio.ParseTransport(name)
		if !ok {
			return nil, fmt.Errorf("transport: unknown transport %q", name)
		}
		ts = append(ts, t)
	}
	if o.HTTPClient != nil && o.HTTPClient.Timeout > 0 {
		return nil, errors.New("transport: HTTPClient.Timeout must be zero: long polls last a heartbeat")
	}
	if o.Timeout <= 0 {
		o.Timeout = client.DefaultTimeout
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = eio.DefaultMaxPayload
	}
	if o.UpgradeTimeout <= 0 {
		o.UpgradeTimeout = eio.DefaultUpgradeTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &Client{
		opts:    o,
		base:    url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host, Path: o.Path},
		initial: ts[0],
		upgrade: ts[0] == eio.Polling && slices.Contains(ts[1:], eio.WebSocket) && (o.Upgrade == nil || *o.Upgrade),
		httpc:   o.HTTPClient,
		log:     o.Logger,
		wakeCh:  make(chan struct{}, 1),
		runs:    make(map[*engineRun]struct{}),
		runDone: make(chan struct{}, 1),
		sockets: make(map[*client.Socket]*ClientSocket),
	}
	if c.httpc == nil {
		c.ownTr = newHTTPTransport()
		c.httpc = &http.Client{Transport: c.ownTr}
	}
	c.m = client.NewManager(client.Config{
		Engine: eio.Config{
			UpgradeTimeout:   o.UpgradeTimeout,
			Limits:           eio.Limits{MaxPayload: o.MaxPayload},
			MaxQueuedPackets: o.MaxQueuedPackets,
			MaxQueuedBytes:   o.MaxQueuedBytes,
		},
		Limits:               o.Limits,
		Transport:            c.initial,
		Timeout:              o.Timeout,
		NoReconnection:       o.Reconnection != nil && !*o.Reconnection,
		ReconnectionAttempts: o.ReconnectionAttempts,
		ReconnectionDelay:    o.ReconnectionDelay,
		ReconnectionDelayMax: o.ReconnectionDelayMax,
		RandomizationFactor:  o.RandomizationFactor,
		Rand:                 rand.Float64,
		MaxBufferedPackets:   o.MaxBufferedPackets,
		Wake:                 c.wake,
	})
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.drive()
	return c, nil
}

// Manager is the client's state machine, for its reconnection handlers
// (OnReconnectAttempt, OnReconnect, OnReconnectFailed, OnOpen, OnClose,
// OnError).
func (c *Client) Manager() *client.Manager { return c.m }

// Connect opens the connection, unless one is open, and waits for the
// Engine.IO handshake: nil once open, or the error of the first attempt
// that failed (the client then goes on retrying as the reconnection
// options say), or ctx's.
func (c *Client) Connect(ctx context.Context) error {
	return awaitFirst(ctx, func(report func(error)) func() {
		offOpen := c.m.OnOpen(func() { report(nil) })
		offErr := c.m.OnError(report)
		return func() { offOpen(); offErr() }
	}, c.m.IsOpen, func() error { return c.m.Connect(time.Now()) })
}

// awaitFirst starts an operation and waits for its first outcome: what
// the callbacks that subscribe registers report (nil for success), or the
// end of ctx. done says whether there is nothing to wait for.
func awaitFirst(ctx context.Context, subscribe func(report func(error)) (off func()), done func() bool, start func() error) error {
	ch := make(chan error, 1)
	off := subscribe(func(err error) {
		select {
		case ch <- err:
		default:
		}
	})
	defer off()
	if done() {
		return nil
	}
	if err := start(); err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Connected reports whether an Engine.IO session is open.
func (c *Client) Connected() bool { return c.m.IsOpen() }

// Transport is the transport of the session opening or open ("polling" or
// "websocket"), or "" when there is none.
func (c *Client) Transport() string {
	if e := c.m.Engine(); e != nil {
		return e.Transport().String()
	}
	return ""
}

// SID is the Engine.IO session id, "" when no session is open.
func (c *Client) SID() string {
	if e := c.m.Engine(); e != nil {
		return e.SID()
	}
	return ""
}

// Socket returns the socket of namespace ("" and "/" are the main
// namespace), with auth (any value that encodes as a JSON object, or nil)
// as its handshake auth; the same namespace gives the same socket, a
// non-nil auth replacing the previous one. The socket is not connected:
// register its handlers, then call Connect.
func (c *Client) Socket(namespace string, auth any) *ClientSocket {
	cs := c.m.Socket(namespace)
	c.smu.Lock()
	s := c.sockets[cs]
	if s == nil {
		s = &ClientSocket{c: c, s: cs}
		c.sockets[cs] = s
	}
	c.smu.Unlock()
	if auth != nil {
		if err := cs.SetAuth(auth); err != nil {
			s.setAuthErr(err)
		} else {
			s.setAuthErr(nil)
		}
	}
	return s
}

// Close disconnects every socket ("io client disconnect"), flushes and
// closes the connection, and stops every goroutine of the client. Pending
// acks fail. It must not be called from a handler (use Disconnect there).
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.m.Close(time.Now())
		c.wake()
		timer := time.NewTimer(c.opts.WriteTimeout)
		defer timer.Stop()
	wait:
		for c.liveRuns() > 0 {
			select {
			case <-c.runDone:
			case <-timer.C:
				break wait
			}
		}
		c.cancel()
		c.wg.Wait()
		if c.ownTr != nil {
			c.ownTr.CloseIdleConnections()
		}
	})
	return nil
}

func (c *Client) liveRuns() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return len(c.runs)
}

// wake is the manager's wake-up: it never blocks.
func (c *Client) wake() {
	select {
	case c.wakeCh <- struct{}{}:
	default:
	}
	c.wmu.Lock()
	for r := range c.runs {
		r.kick()
	}
	c.wmu.Unlock()
}

// drive runs the manager's timer and starts the sessions it asks for.
func (c *Client) drive() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		c.m.HandleTimeout(time.Now())
		for e := c.m.TakeDial(); e != nil; e = c.m.TakeDial() {
			c.start(e)
		}
		if t, ok := c.m.Deadline(); ok {
			timer.Reset(max(time.Until(t), 0))
		} else {
			timer.Stop()
		}
		select {
		case <-c.wakeCh:
		case <-timer.C:
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *Client) start(e *client.Engine) {
	r := newRun(c, e)
	c.wmu.Lock()
	c.runs[r] = struct{}{}
	c.wmu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		r.run()
		c.wmu.Lock()
		delete(c.runs, r)
		c.wmu.Unlock()
		select {
		case c.runDone <- struct{}{}:
		default:
		}
	}()
}

// engineURL is the URL of a request of transport t for session sid.
func (c *Client) engineURL(t eio.Transport, sid string) string {
	u := c.base
	q := make(url.Values, len(c.opts.Query)+3)
	for k, v := range c.opts.Query {
		q[k] = v
	}
	q.Set("EIO", "4")
	q.Set("transport", t.String())
	if sid != "" {
		q.Set("sid", sid)
	}
	u.RawQuery = q.Encode()
	if t == eio.WebSocket {
		if u.Scheme == "https" {
			u.Scheme = "wss"
		} else {
			u.Scheme = "ws"
		}
	}
	return u.String()
}

// ClientSocket is the client's connection to one namespace: its handlers,
// its emits and its acks. It rejoins after every reconnection until it
// disconnects.
type ClientSocket struct {
	c *Client
	s *client.Socket

	mu      sync.Mutex
	authErr error
}

func (s *ClientSocket) setAuthErr(err error) {
	s.mu.Lock()
	s.authErr = err
	s.mu.Unlock()
}

// Core is the socket's state machine.
func (s *ClientSocket) Core() *client.Socket { return s.s }

// Namespace is the socket's namespace.
func (s *ClientSocket) Namespace() string { return s.s.Namespace() }

// ID is the socket id the server gave, "" while not connected.
func (s *ClientSocket) ID() string { return s.s.ID() }

// Connected reports whether the server confirmed the connection.
func (s *ClientSocket) Connected() bool { return s.s.Connected() }

// Active reports whether the socket wants to be connected: from Connect
// until Disconnect, a refusal or a server disconnect.
func (s *ClientSocket) Active() bool { return s.s.Active() }

// Recovered reports whether the last connection recovered the session's
// state on a server with connection state recovery.
func (s *ClientSocket) Recovered() bool { return s.s.Recovered() }

// SetAuth replaces the auth sent with the next CONNECT.
func (s *ClientSocket) SetAuth(auth any) error {
	err := s.s.SetAuth(auth)
	s.setAuthErr(err)
	return err
}

// Connect joins the namespace and waits for the outcome: nil once
// connected; a *client.ConnectError when the server refused (the socket is
// then inactive); a *client.ConnectFailure when the connection attempt
// failed (the client goes on retrying, and the socket joins once it
// succeeds); client.ErrDisconnected when Disconnect or Close ended the
// attempt; or ctx's error (the socket goes on trying).
func (s *ClientSocket) Connect(ctx context.Context) error {
	s.mu.Lock()
	err := s.authErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return awaitFirst(ctx, func(report func(error)) func() {
		offOK := s.s.OnConnect(func() { report(nil) })
		offErr := s.s.OnConnectError(report)
		return func() { offOK(); offErr() }
	}, s.s.Connected, func() error { return s.s.Connect(time.Now()) })
}

// Disconnect leaves the namespace ("io client disconnect"); the socket does
// not rejoin until Connect. When no socket of the client remains active,
// the connection closes.
func (s *ClientSocket) Disconnect() { s.s.Disconnect() }

// On adds a handler for event and returns a function that removes it.
// Handlers run on the goroutine that read the event, one at a time; one
// must not wait for another event or an ack of the same client
// (EmitWithAck blocks until ctx ends there: use EmitAck).
func (s *ClientSocket) On(event string, h func(e *ClientEvent)) (off func()) { return s.s.On(event, h) }

// Once adds a handler that runs for the next event only.
func (s *ClientSocket) Once(event string, h func(e *ClientEvent)) (off func()) {
	return s.s.Once(event, h)
}

// OnAny adds a handler that sees every event before its own handlers.
func (s *ClientSocket) OnAny(h func(e *ClientEvent)) (off func()) { return s.s.OnAny(h) }

// Off removes every handler of event.
func (s *ClientSocket) Off(event string) { s.s.Off(event) }

// OnConnect adds a handler run each time the server confirms the
// connection.
func (s *ClientSocket) OnConnect(fn func()) (off func()) { return s.s.OnConnect(fn) }

// OnConnectError adds a handler run when a connection fails: a
// *client.ConnectError (refused by the server) or a *client.ConnectFailure
// (the attempt failed).
func (s *ClientSocket) OnConnectError(fn func(err error)) (off func()) {
	return s.s.OnConnectError(fn)
}

// OnDisconnect adds a handler run when the socket loses its connection,
// with the reason: "io server disconnect", "io client disconnect", "ping
// timeout", "transport close", "transport error", "parse error", "forced
// close".
func (s *ClientSocket) OnDisconnect(fn func(reason string)) (off func()) {
	return s.s.OnDisconnect(fn)
}

// Emit sends an event; []byte anywhere in args travels as binary. While
// the socket is not connected the event waits, in a bounded buffer.
func (s *ClientSocket) Emit(event string, args ...any) error {
	return s.emitter().Emit(event, args...)
}

// EmitAck sends an event and calls ack with the server's answer, or
// client.ErrAckTimeout after AckTimeout, or client.ErrDisconnected.
func (s *ClientSocket) EmitAck(event string, ack func(args core.Args, err error), args ...any) error {
	return s.emitter().EmitAck(event, ack, args...)
}

// EmitWithAck sends an event and waits for the server's answer, the ack
// timeout, or the end of ctx.
func (s *ClientSocket) EmitWithAck(ctx context.Context, event string, args ...any) (core.Args, error) {
	return s.emitter().EmitWithAck(ctx, event, args...)
}

// Timeout returns an emitter whose acks fail with client.ErrAckTimeout
// after d.
func (s *ClientSocket) Timeout(d time.Duration) *ClientEmitter {
	return &ClientEmitter{s: s, timeout: d}
}

// Volatile returns an emitter whose events are dropped rather than
// buffered when the socket is not connected or the queue is full.
func (s *ClientSocket) Volatile() *ClientEmitter {
	return &ClientEmitter{s: s, timeout: s.c.opts.AckTimeout, volatile: true}
}

func (s *ClientSocket) emitter() *ClientEmitter {
	return &ClientEmitter{s: s, timeout: s.c.opts.AckTimeout}
}

// ClientEmitter emits on a socket with flags.
type ClientEmitter struct {
	s        *ClientSocket
	timeout  time.Duration
	volatile bool
}

// Timeout sets the ack timeout.
func (e *ClientEmitter) Timeout(d time.Duration) *ClientEmitter {
	c := *e
	c.timeout = d
	return &c
}

// Volatile sets the volatile flag.
func (e *ClientEmitter) Volatile() *ClientEmitter {
	c := *e
	c.volatile = true
	return &c
}

func (e *ClientEmitter) options(ack client.AckFunc) client.EmitOptions {
	o := client.EmitOptions{Ack: ack, Volatile: e.volatile}
	if ack != nil && e.timeout > 0 {
		o.Deadline = time.Now().Add(e.timeout)
	}
	return o
}

// Emit sends an event.
func (e *ClientEmitter) Emit(event string, args ...any) error {
	_, err := e.s.s.EmitWith(e.options(nil), event, args...)
	return err
}

// EmitAck sends an event and calls ack with the answer or an error. When
// EmitAck returns an error, ack is not called.
func (e *ClientEmitter) EmitAck(event string, ack func(args core.Args, err error), args ...any) error {
	if ack == nil {
		return e.Emit(event, args...)
	}
	_, err := e.s.s.EmitWith(e.options(ack), event, args...)
	return err
}

// EmitWithAck sends an event and waits for the answer, the timeout, or
// the end of ctx.
func (e *ClientEmitter) EmitWithAck(ctx context.Context, event string, args ...any) (core.Args, error) {
	type answer struct {
		args core.Args
		err  error
	}
	ch := make(chan answer, 1)
	id, err := e.s.s.EmitWith(e.options(func(a core.Args, err error) { ch <- answer{a, err} }), event, args...)
	if err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		return a.args, a.err
	case <-ctx.Done():
		e.s.s.CancelAck(id)
		return nil, ctx.Err()
	}
}
