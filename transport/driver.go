package transport

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/core/eio"
)

// Conn is the server-side session a Driver serves. core.Conn implements
// it; so does the raw Engine.IO session of package httpadapter.
type Conn interface {
	SID() string
	HandlePayload(now time.Time, body []byte) error
	HandleFrame(now time.Time, frame []byte, binary bool) error
	HandleTransportClose(now time.Time, err error)
	StartProbe(now time.Time) error
	HandleProbeFrame(now time.Time, frame []byte, binary bool) error
	HandleProbeClose(now time.Time)
	HandleTimeout(now time.Time)
	TakeOutput(dst []eio.Packet) []eio.Packet
	TakeOutputLimit(dst []eio.Packet, max int) []eio.Packet
	TakeProbeOutput(dst []eio.Packet) []eio.Packet
	HasOutput() bool
	Deadline() (time.Time, bool)
	Closed() bool
	Transport() eio.Transport
	Upgrading() bool
}

// Options configure a Driver.
type Options struct {
	// Clock is the time source; default time.Now.
	Clock func() time.Time
	// MaxPayload bounds a polling body or WebSocket message, in bytes.
	MaxPayload int
	// FlushGrace is how long a polling session closed by this side's
	// application (eio.ReasonForcedClose) waits for the polls that collect
	// its final packets and its close packet. Default 5s. A session closed
	// for any other reason is forgotten at once, as in the reference: only
	// a poll pending at that moment still gets its answer.
	FlushGrace time.Duration
	// OnDone is called once when the driver has finished: the session is
	// closed, its output flushed or abandoned, its goroutines ended.
	OnDone func()
	Logger *slog.Logger
	// Go runs application code (a session's turns) on a goroutine of its
	// own; default go fn(). Track counts a goroutine that became one
	// running application code (+1) or stopped being one (-1), for an
	// adapter that waits for them; default none. See turns.go.
	Go    func(fn func())
	Track func(delta int)
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = eio.DefaultMaxPayload
	}
	if o.FlushGrace <= 0 {
		o.FlushGrace = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Go == nil {
		o.Go = func(fn func()) { go fn() }
	}
	if o.Track == nil {
		o.Track = func(int) {}
	}
}

// Driver serves one session: its timer, its wake-ups, its polling requests
// and its WebSocket. Make it with NewDriver, give its Wake to the session's
// constructor, then Attach the session.
type Driver struct {
	opts Options
	conn Conn

	// Set by Attach, for a session that opened on polling.
	pollCh chan struct{} // wakes a pending poll
	wsCh   chan struct{} // wakes a probe under way

	mu       sync.Mutex
	timer    *time.Timer
	getBusy  bool
	postBusy bool
	ws       bool // a WebSocket carries the session (or is being probed)
	wsConn   *WebSocket
	done     bool
	// handling counts the ticks inside the session's HandleTimeout: a kick
	// meanwhile needs no tick of its own, the rearm that follows sees it.
	handling int
	// kicks counts the kicks, so that a rearm computed before one does not
	// undo the tick it asked for.
	kicks uint64
	// graceUntil: the session is closed and waits until then for a last
	// poll to collect its final packets.
	graceUntil time.Time
	// shutdown: the server is going away; a closed polling session waits
	// for no further poll.
	shutdown bool
	// closeSent: a poll has carried the close packet of a closed session,
	// which is then forgotten.
	closeSent bool
	// ended is closed when the driver finishes: it ends a reader that
	// waits for room (ReadPaused).
	ended      chan struct{}
	wg         sync.WaitGroup           // goroutines of the driver
	writer     atomic.Pointer[wsWriter] // the WebSocket's writer, once one carries the session
	turns      turns                    // application code run by the reader (turns.go)
	fast       fastState                // the reader's fast read (fastread.go)
	sweepState                          // the reader's waits, for the idle sweep (idle.go)
}

// NewDriver makes a driver; Attach its session before serving requests.
func NewDriver(opts Options) *Driver {
	opts.defaults()
	d := &Driver{opts: opts, ended: make(chan struct{})}
	d.turns.shard = watch.shardOf()
	return d
}

// Attach binds the session and arms its timer.
func (d *Driver) Attach(c Conn) {
	if r, ok := c.(turnRunner); ok {
		r.SetRunner(d.runTurn)
	}
	if w, ok := c.(turnWaiter); ok {
		w.SetWaiting(d.turnWaits)
	}
	if c.Transport() != eio.WebSocket {
		// Only a session that may poll, and probe for an upgrade, needs
		// them: one that opened on a WebSocket never does.
		d.pollCh, d.wsCh = make(chan struct{}, 1), make(chan struct{}, 1)
	}
	d.mu.Lock()
	d.conn = c
	d.timer = time.AfterFunc(time.Hour, d.tick)
	d.mu.Unlock()
	d.rearm()
}

// Conn is the session the driver serves.
func (d *Driver) Conn() Conn { return d.conn }

// Wake tells the driver that the session has output or changed state. It
// never blocks. When the session closed, or when its deadline moved (an
// acknowledgement with a timeout, due before the next heartbeat), the
// session's HandleTimeout runs at once on the timer's goroutine, and the
// timer is armed again for the new Deadline.
func (d *Driver) Wake() {
	d.signal()
	d.mu.Lock()
	c, ready := d.conn, d.timer != nil && !d.done
	d.mu.Unlock()
	if ready && (c.Closed() || deadlineMoved(c)) {
		d.kick()
	}
}

// deadlineMoved asks a session that can tell (core's connections can)
// whether its deadline moved since it last said so.
func deadlineMoved(c Conn) bool {
	m, ok := c.(interface{ DeadlineMoved() bool })
	return ok && m.DeadlineMoved()
}

// kick runs a tick at once: HandleTimeout, then the timer armed again.
func (d *Driver) kick() {
	d.mu.Lock()
	d.kicks++
	if d.timer != nil && !d.done && d.handling == 0 {
		d.timer.Reset(0)
	}
	d.mu.Unlock()
}

// signal wakes a pending poll and the WebSocket writer.
func (d *Driver) signal() {
	if w := d.writer.Load(); w != nil {
		// A WebSocket carries the session: no poll or probe to wake.
		// While the reader is inline, it writes (turns.go).
		if !d.turns.deferWrite() {
			w.start()
		}
		return
	}
	select {
	case d.pollCh <- struct{}{}:
	default:
	}
	select {
	case d.wsCh <- struct{}{}:
	default:
	}
}

func (d *Driver) tick() {
	c := d.conn
	d.mu.Lock()
	d.handling++
	d.mu.Unlock()
	c.HandleTimeout(d.opts.Clock())
	d.mu.Lock()
	d.handling--
	d.mu.Unlock()
	d.signal()
	if c.Closed() {
		d.closedTick()
		return
	}
	d.rearm()
}

// closedTick finishes a closed polling session once no poll is pending and
// none is awaited: at once unless the application closed it, else once its
// close packet went out, or once the grace for the polls that collect it
// has passed. A WebSocket session is finished by its own goroutines.
func (d *Driver) closedTick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done || d.ws {
		return
	}
	// No poll can come for a session on WebSocket whose socket never ran
	// (its accept failed).
	if !d.getBusy && (d.forgetLocked() || d.conn.Transport() == eio.WebSocket) {
		d.finishLocked()
		return
	}
	now := d.opts.Clock()
	if d.graceUntil.IsZero() {
		d.graceUntil = now.Add(d.opts.FlushGrace)
	}
	if !now.Before(d.graceUntil) {
		d.finishLocked()
		return
	}
	d.timer.Reset(d.graceUntil.Sub(now))
}

// graceful reports whether the session was closed by this side's
// application: the reference then keeps it until a poll has collected its
// last packets and its close packet. Any other close (parse error, ping
// timeout, transport close or error) forgets it at once.
func graceful(c Conn) bool {
	r, ok := c.(interface{ CloseReason() eio.Reason })
	return !ok || r.CloseReason() == eio.ReasonForcedClose
}

// forgetLocked reports whether a closed session awaits no further poll;
// d.mu is held.
func (d *Driver) forgetLocked() bool {
	return d.shutdown || d.closeSent || !graceful(d.conn)
}

// Gone reports whether the session is closed and no further request may
// reach it: the caller answers as for an unknown session id, as the
// reference has forgotten it by then. A poll pending at the close still
// gets its answer.
func (d *Driver) Gone() bool {
	c := d.conn
	if c == nil || !c.Closed() {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done || c.Transport() == eio.WebSocket || d.forgetLocked()
}

func (d *Driver) finishLocked() {
	if d.done {
		return
	}
	d.done = true
	close(d.ended)
	d.timer.Stop()
	go func() {
		d.wg.Wait()
		if d.opts.OnDone != nil {
			d.opts.OnDone()
		}
	}()
}

// finish ends the driver (idempotent).
func (d *Driver) finish() {
	d.mu.Lock()
	d.finishLocked()
	d.mu.Unlock()
}

func (d *Driver) rearm() {
	d.mu.Lock()
	kicks := d.kicks
	d.mu.Unlock()
	t, ok := d.conn.Deadline()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done || d.timer == nil {
		return
	}
	if d.kicks != kicks {
		// Kicked while the deadline was computed: it may be stale, so
		// look again at once.
		d.timer.Reset(0)
		return
	}
	if !ok {
		d.timer.Stop()
		return
	}
	wait := t.Sub(d.opts.Clock())
	if wait < 0 {
		wait = 0
	}
	d.timer.Reset(wait)
}

// Shutdown tells the driver that the server is going away: once its
// session is closed, a poll pending then still gets the last packets, but
// a polling session is not kept open waiting for one more poll, as the
// reference drops such sessions at its close.
func (d *Driver) Shutdown() {
	d.mu.Lock()
	d.shutdown = true
	d.mu.Unlock()
	d.kick()
}

// ErrAborted is the cause of a session ended by Abort.
var ErrAborted = errors.New("session aborted")

// Abort ends the session at once: its transport is closed without a
// flush, and the driver finishes.
func (d *Driver) Abort() {
	d.conn.HandleTransportClose(d.opts.Clock(), ErrAborted)
	d.mu.Lock()
	ws := d.wsConn
	d.mu.Unlock()
	if ws != nil {
		ws.closeNow()
	}
	d.Wake()
	d.finish()
}
