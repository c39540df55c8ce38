package core

import (
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// Config configures a Server. The zero value of a field means its default.
type Config struct {
	// Engine configures every Engine.IO session: heartbeat, upgrade timeout,
	// payload limits, output queue bounds.
	Engine eio.Config
	// ConnectTimeout closes a session that has joined no namespace in time.
	// Default 45s, the reference's.
	ConnectTimeout time.Duration
	// Limits bound the Socket.IO packets a peer sends.
	Limits sio.Limits
	// MaxNamespacesPerConn bounds the namespaces one connection may join.
	// Default 64.
	MaxNamespacesPerConn int
	// Clock is the adapter's clock. Core calls it only to stamp the deadline
	// of an acknowledgement requested by application code. Required for
	// acks with a timeout.
	Clock func() time.Time
	// Wake is called, without blocking, when a server-wide timer (a
	// broadcast's ack timeout) becomes due earlier than before: the adapter
	// then calls Deadline and, when due, HandleTimeout.
	Wake func()
	// NewID makes session and socket ids. Default: 20 characters of
	// base64url from crypto/rand.
	NewID func() string
	// Adapter makes each namespace's adapter. Default NewMemoryAdapter.
	Adapter AdapterFactory
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// Go runs application code off core's goroutines: a socket's turns
	// (its middlewares, handlers, ack callbacks and disconnect handlers, in
	// order) and the callbacks of broadcast acknowledgements. Core calls it
	// without blocking, possibly under its locks, when work is ready and
	// nothing runs it yet; Go must call fn on a goroutine of its own and
	// not wait for it. fn returns once the work is done, so goroutines live
	// only while there is work. httpadapter supplies one. nil runs fn at
	// once on the calling goroutine: then handlers must not block (core's
	// tests on a virtual clock do that).
	Go func(fn func())
	// Inbox bounds what waits for one socket's handlers; see InboxLimits.
	Inbox InboxLimits
}

// Server is a Socket.IO server: its namespaces and its live connections.
type Server struct {
	cfg Config
	log *slog.Logger

	mu      sync.RWMutex
	nsps    map[string]*Namespace
	parents []*ParentNamespace
	conns   map[string]*Conn
	closing bool

	tmu    sync.Mutex
	timers sio.AckTable[func()] // server-wide deadlines

	fwd atomic.Pointer[forwarderBox] // see SetForwarder (forward.go)

	// handlerIDs numbers the handlers that sockets add, so that the
	// function On returns removes its own (one counter for all rather
	// than one in every socket).
	handlerIDs atomic.Uint64
}

// NewServer makes a server with the main namespace "/".
func NewServer(cfg Config) *Server {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 45 * time.Second
	}
	if cfg.MaxNamespacesPerConn <= 0 {
		cfg.MaxNamespacesPerConn = 64
	}
	if cfg.NewID == nil {
		cfg.NewID = RandomID
	}
	if cfg.Adapter == nil {
		cfg.Adapter = NewMemoryAdapter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Engine = cfg.Engine.WithDefaults()
	cfg.Inbox = cfg.Inbox.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, nsps: make(map[string]*Namespace), conns: make(map[string]*Conn)}
	s.Of("/")
	return s
}

// RandomID returns 20 characters of base64url from 15 random bytes.
func RandomID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // never fails, as documented
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Config returns the server's configuration, defaults applied.
func (s *Server) Config() Config { return s.cfg }

// Logger is the server's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// Of returns the namespace named name, creating it when needed. Names start
// with "/"; one without is given one.
func (s *Server) Of(name string) *Namespace {
	name = normalizeNsp(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nsps[name]; n != nil {
		return n
	}
	n := newNamespace(s, name, nil)
	s.nsps[name] = n
	return n
}

func normalizeNsp(name string) string {
	if name == "" || name[0] != '/' {
		return "/" + name
	}
	return name
}

// OfFunc declares dynamic namespaces: a connect to a namespace that does not
// exist yet creates it when match accepts its name and handshake. The
// middlewares and connection handlers of the returned parent apply to every
// child.
func (s *Server) OfFunc(match func(name string, hs *Handshake) bool) *ParentNamespace {
	p := &ParentNamespace{srv: s, match: match, children: make(map[string]*Namespace)}
	s.mu.Lock()
	s.parents = append(s.parents, p)
	s.mu.Unlock()
	return p
}

// OfRegexp declares dynamic namespaces whose names match re.
func (s *Server) OfRegexp(re *regexp.Regexp) *ParentNamespace {
	return s.OfFunc(func(name string, _ *Handshake) bool { return re.MatchString(name) })
}

// lookup finds the namespace a client asks for, creating a dynamic child
// when a parent accepts it.
func (s *Server) lookup(name string, hs *Handshake) *Namespace {
	s.mu.RLock()
	n := s.nsps[name]
	parents := s.parents
	s.mu.RUnlock()
	if n != nil {
		return n
	}
	for _, p := range parents {
		if p.match(name, hs) {
			return p.child(name)
		}
	}
	return nil
}

// Namespaces lists the namespaces that exist now.
func (s *Server) Namespaces() []*Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		out = append(out, n)
	}
	return out
}

// Conn returns the live connection with session id sid.
func (s *Server) Conn(sid string) *Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.conns[sid]
}

// ConnCount is the number of live connections.
func (s *Server) ConnCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.conns)
}

// Conns lists the live connections.
func (s *Server) Conns() []*Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	return out
}

func (s *Server) removeConn(c *Conn) {
	s.mu.Lock()
	if s.conns[c.sid] == c {
		delete(s.conns, c.sid)
	}
	s.mu.Unlock()
}

// Close closes every connection with reason "server shutting down" and the
// adapters of every namespace. The adapter in front must still flush the
// connections' output and end their transports.
func (s *Server) Close() {
	s.mu.Lock()
	s.closing = true
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	nsps := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		nsps = append(nsps, n)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close(eio.ReasonServerShuttingDown)
	}
	for _, n := range nsps {
		_ = n.adapter.Close()
	}
}

// run has fn run by the adapter's Go, or at once without one.
func (s *Server) run(fn func()) {
	if s.cfg.Go != nil {
		s.cfg.Go(fn)
		return
	}
	fn()
}

// deadline turns a timeout requested by application code into a deadline
// on the adapter's clock; zero means none.
func (s *Server) deadline(d time.Duration) time.Time {
	if d <= 0 || s.cfg.Clock == nil {
		return time.Time{}
	}
	return s.cfg.Clock().Add(d)
}

// after runs fn at the server-wide deadline t (zero: never). It returns a
// cancel function.
func (s *Server) after(t time.Time, fn func()) (cancel func()) {
	if t.IsZero() {
		return func() {}
	}
	s.tmu.Lock()
	prev, had := s.timers.NextDeadline()
	id := s.timers.Add(fn, t.UnixNano())
	s.tmu.Unlock()
	if (!had || t.UnixNano() < prev) && s.cfg.Wake != nil {
		s.cfg.Wake()
	}
	return func() {
		s.tmu.Lock()
		s.timers.Resolve(id)
		s.tmu.Unlock()
	}
}

// Deadline is when the server-wide HandleTimeout is next due.
func (s *Server) Deadline() (time.Time, bool) {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	d, ok := s.timers.NextDeadline()
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, d), true
}

// HandleTimeout runs the server-wide timers due at now.
func (s *Server) HandleTimeout(now time.Time) {
	var due []func()
	s.tmu.Lock()
	s.timers.Expire(now.UnixNano(), func(_ int64, fn func()) { due = append(due, fn) })
	s.tmu.Unlock()
	for _, fn := range due {
		fn()
	}
}
