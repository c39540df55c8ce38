package transport

import (
	"sync"
	"sync/atomic"
	"time"
)

// Running application code (core's socket turns).
//
// A session whose handlers may block (core.Conn) asks its adapter for a
// goroutine each time one of its sockets has turns to run. Starting one per
// message costs a goroutine and a scheduler wake-up, which a quiet
// connection pays on every message. So the WebSocket reader runs the turn
// that the message it just handed in made ready, itself, and hands reading
// to a new goroutine only if that turn is still running after
// inlineHandoff: a handler that returns at once costs no goroutine at all,
// and one that blocks holds up this connection's reads for inlineHandoff at
// most, never its heartbeat, acks or writes, which run on other goroutines.
// Turns made ready anywhere else run on a goroutine of their own.

// inlineHandoff is how long the reader runs a turn before it hands reading
// to a new goroutine.
const inlineHandoff = time.Millisecond

// turnRunner is the optional interface of a session that runs application
// code as turns (core.Conn).
type turnRunner interface {
	SetRunner(r func(fn func()))
}

// turns is the driver's part in running turns.
type turns struct {
	mu      sync.Mutex
	reading bool     // the reader is handing in a message
	ready   []func() // turns that message made ready
	// What a new goroutine reads on with after a hand-off; under mu.
	sock *WebSocket
	w    *wsWriter
	end  func()

	// run says who reads after the turn the reader is running: the
	// run's number times 4 plus its state. Only the reader starts a run,
	// and once a run is handed off its old reader never touches the
	// driver's turns again.
	run atomic.Uint64
}

const (
	inlineRunning uint64 = iota
	inlineDone
	inlineHandedOff
)

// runTurn is the runner given to the session: during the reader's input it
// keeps fn for the reader; otherwise fn runs on a goroutine of its own.
func (d *Driver) runTurn(fn func()) {
	t := &d.turns
	t.mu.Lock()
	if t.reading {
		t.ready = append(t.ready, fn)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	d.opts.Go(fn)
}

// beginInput and endInput bracket a message handed in by the reader; endInput
// returns the turns it made ready.
func (d *Driver) beginInput() {
	d.turns.mu.Lock()
	d.turns.reading = true
	d.turns.mu.Unlock()
}

func (d *Driver) endInput() []func() {
	t := &d.turns
	t.mu.Lock()
	t.reading = false
	ready := t.ready
	t.ready = nil
	t.mu.Unlock()
	return ready
}

// setResume records what a new goroutine reads on with after a hand-off.
func (d *Driver) setResume(sock *WebSocket, w *wsWriter, end func()) {
	d.turns.mu.Lock()
	d.turns.sock, d.turns.w, d.turns.end = sock, w, end
	d.turns.mu.Unlock()
}

// A watchdog is the timer of one inline run. They are pooled: an idle
// session keeps none, and a busy one allocates none.
type watchdog struct {
	t   *time.Timer
	d   atomic.Pointer[Driver]
	run atomic.Uint64
}

var watchdogs sync.Pool // of *watchdog

func newWatchdog() *watchdog {
	w := new(watchdog)
	w.t = time.AfterFunc(time.Hour, w.fire)
	w.t.Stop()
	return w
}

// fire hands off the run the watchdog was armed for. A late firing may
// find the watchdog reused by another run, which it then hands off early:
// that costs a goroutine and nothing else.
func (w *watchdog) fire() {
	if d := w.d.Load(); d != nil {
		d.handOff(w.run.Load())
	}
}

// runInline runs the first turn on the reader and starts the others on
// goroutines of their own. It reports whether the reader is still the
// reader: false when the turn ran past inlineHandoff and a new goroutine
// took over reading, in which case the caller must return at once.
func (d *Driver) runInline(ready []func()) bool {
	for _, fn := range ready[1:] {
		d.opts.Go(fn)
	}
	t := &d.turns
	run := (t.run.Load()/4 + 1) * 4
	t.run.Store(run | inlineRunning)
	w, _ := watchdogs.Get().(*watchdog)
	if w == nil {
		w = newWatchdog()
	}
	w.d.Store(d)
	w.run.Store(run)
	w.t.Reset(inlineHandoff)
	ready[0]()
	w.t.Stop()
	w.d.Store(nil)
	watchdogs.Put(w)
	if !t.run.CompareAndSwap(run|inlineRunning, run|inlineDone) {
		// Reading went on without us: this goroutine was counted as
		// application code when it was handed off.
		d.opts.Track(-1)
		return false
	}
	return true
}

// handOff ends the reader's part in run if it is still running: a new
// goroutine reads on, and the old one is counted as application code.
func (d *Driver) handOff(run uint64) {
	t := &d.turns
	// Counted before the old reader can learn it was handed off (and
	// uncount itself), so that the count never goes below zero.
	d.opts.Track(1)
	if !t.run.CompareAndSwap(run|inlineRunning, run|inlineHandedOff) {
		d.opts.Track(-1)
		return
	}
	t.mu.Lock()
	sock, w, end := t.sock, t.w, t.end
	t.mu.Unlock()
	go d.readLoop(sock, w, end)
}
