package eio

import "time"

// Limits bounds what a peer controls. The zero value of a field means its
// default.
type Limits struct {
	// MaxPayload is the largest polling body or WebSocket frame accepted,
	// in bytes (the reference's maxHttpBufferSize). Default 1,000,000.
	MaxPayload int
	// MaxPacketsPerPayload is the most packets one polling body may carry.
	// Default 10,000.
	MaxPacketsPerPayload int
}

// Default limits.
const (
	DefaultMaxPayload           = 1_000_000
	DefaultMaxPacketsPerPayload = 10_000
)

func (l Limits) withDefaults() Limits {
	if l.MaxPayload <= 0 {
		l.MaxPayload = DefaultMaxPayload
	}
	if l.MaxPacketsPerPayload <= 0 {
		l.MaxPacketsPerPayload = DefaultMaxPacketsPerPayload
	}
	return l
}

// Config is a session's configuration. The zero value of a field means its
// default, which is the reference server's.
type Config struct {
	PingInterval   time.Duration // default 25s
	PingTimeout    time.Duration // default 20s
	UpgradeTimeout time.Duration // default 10s
	Limits         Limits
	// AllowUpgrades lets a polling session be upgraded to WebSocket; the
	// handshake then advertises "websocket". Servers only.
	AllowUpgrades bool
	// MaxQueuedPackets bounds the output queue. Past it a volatile packet is
	// dropped and any other closes the session as a slow consumer.
	// Default 10,000.
	MaxQueuedPackets int
	// MaxQueuedBytes bounds the bytes of data in the output queue in the same
	// way. Default 16 MiB.
	MaxQueuedBytes int
}

// Defaults of Config.
const (
	DefaultPingInterval     = 25 * time.Second
	DefaultPingTimeout      = 20 * time.Second
	DefaultUpgradeTimeout   = 10 * time.Second
	DefaultMaxQueuedPackets = 10_000
	DefaultMaxQueuedBytes   = 16 << 20
)

// WithDefaults returns c with every zero field set to its default. The
// handshake carries PingInterval and PingTimeout in whole milliseconds, so
// they are truncated to the millisecond (at least one): a server's timers
// run on the values its client is told.
func (c Config) WithDefaults() Config {
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	c.PingInterval = wholeMillis(c.PingInterval)
	c.PingTimeout = wholeMillis(c.PingTimeout)
	if c.UpgradeTimeout <= 0 {
		c.UpgradeTimeout = DefaultUpgradeTimeout
	}
	if c.MaxQueuedPackets <= 0 {
		c.MaxQueuedPackets = DefaultMaxQueuedPackets
	}
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	c.Limits = c.Limits.withDefaults()
	return c
}

func wholeMillis(d time.Duration) time.Duration {
	return max(d.Truncate(time.Millisecond), time.Millisecond)
}

// Transport is the kind of transport carrying a session.
type Transport uint8

// The transports.
const (
	Polling Transport = iota
	WebSocket
)

func (t Transport) String() string {
	if t == WebSocket {
		return "websocket"
	}
	return "polling"
}

// ParseTransport maps the transport query parameter to a Transport.
func ParseTransport(s string) (Transport, bool) {
	switch s {
	case "polling":
		return Polling, true
	case "websocket":
		return WebSocket, true
	}
	return 0, false
}

// Reason is why a session closed: a closed set whose strings are the ones
// the JavaScript implementations use.
type Reason uint8

// The close reasons.
const (
	ReasonNone               Reason = iota
	ReasonTransportClose            // the peer closed the transport or sent a close packet
	ReasonTransportError            // the transport failed, or the peer was a slow consumer
	ReasonPingTimeout               // no heartbeat in time
	ReasonParseError                // the peer sent something that does not parse or breaks a limit
	ReasonForcedClose               // closed by this side's application
	ReasonServerShuttingDown        // the server is closing every session
)

var reasonText = [...]string{
	ReasonNone:               "",
	ReasonTransportClose:     "transport close",
	ReasonTransportError:     "transport error",
	ReasonPingTimeout:        "ping timeout",
	ReasonParseError:         "parse error",
	ReasonForcedClose:        "forced close",
	ReasonServerShuttingDown: "server shutting down",
}

func (r Reason) String() string {
	if int(r) < len(reasonText) {
		return reasonText[r]
	}
	return "unknown"
}
