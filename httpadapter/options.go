package httpadapter

import (
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// Options configure a Server or an Engine. Names and defaults are the
// reference server's; the zero value of a field means its default.
type Options struct {
	// Path under which requests are served. Default "/socket.io/".
	Path string
	// PingInterval between the server's pings. Default 25s.
	PingInterval time.Duration
	// PingTimeout: how long a pong may take. Default 20s.
	PingTimeout time.Duration
	// UpgradeTimeout: how long an upgrade to WebSocket may take. Default 10s.
	UpgradeTimeout time.Duration
	// ConnectTimeout closes a session that joins no namespace in time.
	// Default 45s. (Socket.IO only.)
	ConnectTimeout time.Duration
	// MaxHTTPBufferSize bounds a polling body and a WebSocket message, in
	// bytes. Default 1e6.
	MaxHTTPBufferSize int
	// Transports allowed, of "polling" and "websocket". Default both.
	Transports []string
	// AllowUpgrades lets polling sessions upgrade to WebSocket. Default
	// true (nil).
	AllowUpgrades *bool
	// CORS answers cross-origin requests; nil sends no CORS headers.
	CORS *CORSOptions
	// AllowRequest may refuse a handshake: a non-nil error answers 403 with
	// its text as the message.
	AllowRequest func(r *http.Request) error
	// Cookie, when set, is sent with the handshake, holding the session id.
	Cookie *CookieOptions
	// PerMessageDeflate compresses WebSocket messages when the client
	// offers it. Default off, as in the reference.
	PerMessageDeflate bool
	// MaxQueuedPackets and MaxQueuedBytes bound a connection's output
	// queue: past them volatile packets are dropped and a connection that
	// stays behind is closed as a slow consumer. Defaults 10,000 and 16 MiB.
	MaxQueuedPackets int
	MaxQueuedBytes   int
	// Limits bound the Socket.IO packets a client sends (attachments, JSON
	// depth). MaxPacketBytes and MaxAttachmentBytes follow
	// MaxHTTPBufferSize unless set, so that a packet the transport takes
	// is not refused by the parser. (Socket.IO only.)
	Limits sio.Limits
	// MaxNamespacesPerConn bounds the namespaces one connection joins.
	MaxNamespacesPerConn int
	// Inbox bounds the events waiting for one socket's handlers (default
	// 256 events, 1 MiB): past it the connection stops reading until the
	// handlers catch up. (Socket.IO only.)
	Inbox core.InboxLimits
	// Adapter makes each namespace's adapter; default in memory.
	// (Socket.IO only.)
	Adapter core.AdapterFactory
	// KeepRequestContext keeps the handshake request's context for the
	// namespace middlewares (core.Handshake.Context), with the values that
	// router middlewares put there. Off by default: it costs about half a
	// KiB per connection, and more behind routers that add their own.
	KeepRequestContext bool
	// Logger receives the logs; default slog.Default(), at debug level
	// when SIO_DEBUG or DEBUG asks for it.
	Logger *slog.Logger
	// Clock is the time source; default time.Now. Tests set a fake one.
	Clock func() time.Time
}

// Bool returns a pointer to b, for AllowUpgrades.
func Bool(b bool) *bool { return &b }

// CORSOptions answer cross-origin requests as the reference's cors option.
type CORSOptions struct {
	// Origins allowed: "*" for any (sent as "*"), or exact origins
	// (reflected when they match). Empty reflects any origin.
	Origins []string
	// AllowOrigin, when set, decides instead of Origins.
	AllowOrigin func(origin string) bool
	// Methods for the preflight; default GET,HEAD,PUT,PATCH,POST,DELETE.
	Methods []string
	// AllowedHeaders for the preflight; default: those the request asks for.
	AllowedHeaders []string
	// Credentials sends Access-Control-Allow-Credentials: true.
	Credentials bool
	// MaxAge of the preflight answer, when positive.
	MaxAge time.Duration
}

// CookieOptions of the session cookie; defaults as the reference's:
// name "io", path "/", HttpOnly, SameSite Lax.
type CookieOptions struct {
	Name     string
	Path     string
	HTTPOnly *bool
	Secure   bool
	SameSite http.SameSite
	MaxAge   time.Duration
}

type config struct {
	Options
	polling, websocket, upgrades bool
}

func (o Options) normalize() config {
	if o.Path == "" {
		o.Path = "/socket.io/"
	}
	if !strings.HasSuffix(o.Path, "/") {
		o.Path += "/"
	}
	if o.MaxHTTPBufferSize <= 0 {
		o.MaxHTTPBufferSize = 1_000_000
	}
	if o.Limits.MaxPacketBytes <= 0 {
		o.Limits.MaxPacketBytes = o.MaxHTTPBufferSize
	}
	if o.Limits.MaxAttachmentBytes <= 0 {
		o.Limits.MaxAttachmentBytes = o.MaxHTTPBufferSize
	}
	if len(o.Transports) == 0 {
		o.Transports = []string{"polling", "websocket"}
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = defaultLogger()
	}
	c := config{Options: o}
	for _, t := range o.Transports {
		switch t {
		case "polling":
			c.polling = true
		case "websocket":
			c.websocket = true
		}
	}
	c.upgrades = c.websocket && (o.AllowUpgrades == nil || *o.AllowUpgrades)
	return c
}

func (c *config) engine() eio.Config {
	return eio.Config{
		PingInterval:     c.PingInterval,
		PingTimeout:      c.PingTimeout,
		UpgradeTimeout:   c.UpgradeTimeout,
		Limits:           eio.Limits{MaxPayload: c.MaxHTTPBufferSize},
		AllowUpgrades:    c.upgrades,
		MaxQueuedPackets: c.MaxQueuedPackets,
		MaxQueuedBytes:   c.MaxQueuedBytes,
	}
}

// defaultLogger is slog.Default(), or a debug-level text logger on stderr
// when SIO_DEBUG is set or DEBUG names sio.
func defaultLogger() *slog.Logger {
	if os.Getenv("SIO_DEBUG") != "" || strings.Contains(os.Getenv("DEBUG"), "sio") {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.Default()
}
