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
	handoff *time.Timer
	resume  func() // reading again, on a new goroutine

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

// setResume records how a new goroutine reads on after a hand-off.
func (d *Driver) setResume(resume func()) {
	d.turns.mu.Lock()
	d.turns.resume = resume
	d.turns.mu.Unlock()
}

// runInline runs the first turn on the reader and starts the others on
// goroutines of their own. It reports whether the reader is still the
// reader: false when the turn ran past inlineHandoff and t.resume took over
// reading, in which case the caller must return at once.
func (d *Driver) runInline(ready []func()) bool {
	for _, fn := range ready[1:] {
		d.opts.Go(fn)
	}
	t := &d.turns
	run := (t.run.Load()/4 + 1) * 4
	t.run.Store(run | inlineRunning)
	t.mu.Lock()
	if t.handoff == nil {
		t.handoff = time.AfterFunc(inlineHandoff, d.handOff)
	} else {
		t.handoff.Reset(inlineHandoff)
	}
	t.mu.Unlock()
	ready[0]()
	if !t.run.CompareAndSwap(run|inlineRunning, run|inlineDone) {
		// Reading went on without us: this goroutine was counted as
		// application code when it was handed off.
		d.opts.Track(-1)
		return false
	}
	t.mu.Lock()
	t.handoff.Stop()
	t.mu.Unlock()
	return true
}

// handOff fires when a turn run by the reader is still running: a new
// goroutine reads on, and the old one is counted as application code. A
// late firing that finds a later run hands that one off early, which costs
// a goroutine and nothing else.
func (d *Driver) handOff() {
	t := &d.turns
	cur := t.run.Load()
	if cur%4 != inlineRunning {
		return
	}
	// Counted before the old reader can learn it was handed off (and
	// uncount itself), so that the count never goes below zero.
	d.opts.Track(1)
	if !t.run.CompareAndSwap(cur, cur-inlineRunning+inlineHandedOff) {
		d.opts.Track(-1)
		return
	}
	t.mu.Lock()
	resume := t.resume
	t.mu.Unlock()
	go resume()
}
