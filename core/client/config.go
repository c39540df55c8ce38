package client

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// Config configures a Manager. The zero value of a field means its default,
// which is the reference client's where it has one.
type Config struct {
	// Engine configures every Engine.IO session: the limits on what the
	// server sends (Limits.MaxPayload, Limits.MaxPacketsPerPayload), the
	// bounds of the output queue and the upgrade timeout. The heartbeat
	// comes from the server's handshake.
	Engine eio.Config
	// Limits bound the Socket.IO packets the server sends.
	Limits sio.Limits
	// Transport is the transport every session starts on. Default Polling.
	Transport eio.Transport
	// Timeout bounds the opening of a session: a handshake that has not
	// arrived by then fails the attempt with ErrTimeout. Default 20s.
	Timeout time.Duration
	// NoReconnection turns reconnection off.
	NoReconnection bool
	// ReconnectionAttempts is the number of attempts before giving up
	// (OnReconnectFailed). Default 0: unlimited.
	ReconnectionAttempts int
	// ReconnectionDelay is the first delay before a reconnection attempt.
	// It doubles with each attempt. Default 1s.
	ReconnectionDelay time.Duration
	// ReconnectionDelayMax caps the delay. Default 5s.
	ReconnectionDelayMax time.Duration
	// RandomizationFactor is the jitter, in [0, 1]. Default 0.5; a negative
	// value means none.
	RandomizationFactor float64
	// Rand returns random numbers in [0, 1) for the jitter. Default
	// math/rand/v2.Float64.
	Rand func() float64
	// MaxBufferedPackets bounds, per socket, the events emitted while the
	// socket is not connected, which wait for the connection. Past it Emit
	// fails with ErrBufferFull. Default 1,000.
	MaxBufferedPackets int
	// MaxBufferedEvents bounds, per socket, the events the server sends
	// before it confirms the connection (a recovering session replays them
	// first). Past it the session closes with "parse error". Default 1,000.
	MaxBufferedEvents int
	// Wake is called, without blocking and possibly under the manager's
	// locks, whenever there is output to take, a session to dial, or a
	// deadline that moved.
	Wake func()
}

// Defaults of Config.
const (
	DefaultTimeout              = 20 * time.Second
	DefaultReconnectionDelay    = time.Second
	DefaultReconnectionDelayMax = 5 * time.Second
	DefaultRandomizationFactor  = 0.5
	DefaultMaxBufferedPackets   = 1000
	DefaultMaxBufferedEvents    = 1000
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Engine = c.Engine.WithDefaults()
	c.Engine.AllowUpgrades = false // a server option
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ReconnectionAttempts < 0 {
		c.ReconnectionAttempts = 0
	}
	if c.ReconnectionDelay <= 0 {
		c.ReconnectionDelay = DefaultReconnectionDelay
	}
	if c.ReconnectionDelayMax <= 0 {
		c.ReconnectionDelayMax = DefaultReconnectionDelayMax
	}
	switch {
	case c.RandomizationFactor == 0:
		c.RandomizationFactor = DefaultRandomizationFactor
	case c.RandomizationFactor < 0:
		c.RandomizationFactor = 0
	case c.RandomizationFactor > 1:
		c.RandomizationFactor = 1
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.MaxBufferedPackets <= 0 {
		c.MaxBufferedPackets = DefaultMaxBufferedPackets
	}
	if c.MaxBufferedEvents <= 0 {
		c.MaxBufferedEvents = DefaultMaxBufferedEvents
	}
	if c.Wake == nil {
		c.Wake = func() {}
	}
	return c
}

// Backoff computes reconnection delays as the reference client does: Min
// times Factor to the power of the attempt number (from 0), moved by up to
// Jitter times itself, down or up as the random number says, and capped at
// Max.
type Backoff struct {
	Min    time.Duration
	Max    time.Duration
	Factor float64
	Jitter float64
}

// Delay is the delay before attempt number attempt (0 for the first),
// given a random number rnd in [0, 1).
func (b Backoff) Delay(attempt int, rnd float64) time.Duration {
	// The reference works in float64 milliseconds; nanoseconds keep
	// sub-millisecond settings meaningful. The cap on the exponentiation
	// keeps the arithmetic finite (the reference's turns into NaN, a zero
	// delay, after a thousand attempts).
	ns := float64(b.Min) * math.Pow(b.Factor, float64(min(attempt, 1000)))
	if ns > float64(math.MaxInt64) || math.IsInf(ns, 0) || math.IsNaN(ns) {
		ns = float64(math.MaxInt64)
	}
	if b.Jitter > 0 {
		dev := math.Floor(rnd * b.Jitter * ns)
		if int64(math.Floor(rnd*10))&1 == 0 {
			ns -= dev
		} else {
			ns += dev
		}
	}
	if ns >= float64(b.Max) {
		return b.Max
	}
	if ns < 0 {
		return 0
	}
	return time.Duration(ns)
}
