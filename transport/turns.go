package transport

import (
	"sync"
	"sync/atomic"
	"time"
)

// Running application code (core's socket turns), and writing what it
// answers.
//
// A session whose handlers may block (core.Conn) asks its adapter for a
// goroutine each time one of its sockets has turns to run. Starting one per
// message costs a goroutine and a scheduler wake-up, which a quiet
// connection pays on every message; so does starting a writer goroutine for
// the one frame that answers it. So the WebSocket reader runs the turn that
// the message it just handed in made ready, itself, and then writes what
// that turn (or anything else meanwhile) queued, itself: a message and its
// answer cost the reader's goroutine and nothing else.
//
// That inline run is watched. If it is still running after one to two
// ticks of inlineHandoff (a handler that blocks, or a write to a peer that
// does not read), a new goroutine takes over reading and the writer gets a
// goroutine of its own: a blocking handler holds up this connection's reads,
// and the writes of what it sent before blocking, for ten milliseconds at
// most, and never its heartbeat or its acks' timeouts, which run on the
// timer's goroutine. A handler that waits for its client (EmitWithAck) says
// so, and is handed off at once (turnWaits). Turns made ready anywhere else
// run on goroutines of their own.
//
// The watch is one goroutine for the whole process, ticking only while
// inline runs come: a timer armed for each run would cost a wake-up of the
// network poller on each message, since it would be the earliest timer.
// Its tick is a trade: at 1 ms the ticks cost one client's echo about a
// sixth of its CPU (measured side by side with 5 ms and 50 ms ticks).

// inlineHandoff is the tick of the watch: an inline run that lasts one to
// two ticks is handed off.
const inlineHandoff = 5 * time.Millisecond

// turnRunner is the optional interface of a session that runs application
// code as turns (core.Conn).
type turnRunner interface {
	SetRunner(r func(fn func()))
}

// turnWaiter is the optional interface of a session that says when a turn
// is about to wait for its peer (core.Conn).
type turnWaiter interface {
	SetWaiting(w func())
}

// turnWaits is the session's word that a turn is about to wait for the
// peer (EmitWithAck in a handler): if the reader is running a turn, it
// hands off at once, so that what the turn sent is written now and the
// answer is read, instead of after a tick of the watch. From another
// goroutine than the reader's it costs at most a needless hand-off.
func (d *Driver) turnWaits() {
	t := &d.turns
	if !t.inline.Load() {
		return
	}
	if r := t.run.Load(); r%4 == inlineRunning {
		d.handOff(r - inlineRunning)
	}
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

	// inline: the reader is handing in a message, or running what it made
	// ready and writing the answer. A wake of the writer meanwhile only
	// sets deferred, which the reader (or the hand-off) takes.
	inline   atomic.Bool
	deferred atomic.Bool

	// The watch's view of the run under way: its run value (0 when none)
	// and the watch's tick when it began; listed says the driver is in
	// its shard of the watch. Only the reader sets wrun to a run, and only
	// the watch's goroutine takes a driver out of its shard.
	wrun   atomic.Uint64
	wtick  atomic.Uint64
	listed atomic.Bool
	shard  uint32 // of the watch
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
// returns the turns it made ready. The reader is inline from beginInput
// until finishInput.
func (d *Driver) beginInput() {
	d.turns.inline.Store(true)
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

// recycle gives back the slice endInput returned, once its turns ran, for
// the next message's.
func (d *Driver) recycle(ready []func()) {
	if cap(ready) == 0 || cap(ready) > 16 {
		return
	}
	clear(ready)
	t := &d.turns
	t.mu.Lock()
	if t.ready == nil {
		t.ready = ready[:0]
	}
	t.mu.Unlock()
}

// deferWrite is the writer's wake-up while the reader is inline: true when
// the reader (or the hand-off) will write, false when the caller must
// start the writer.
func (t *turns) deferWrite() bool {
	if !t.inline.Load() {
		return false
	}
	t.deferred.Store(true)
	if t.inline.Load() {
		return true
	}
	// The reader left meanwhile, and may not have seen the flag: whoever
	// takes it starts the writer.
	return !t.deferred.Swap(false)
}

// resumePoint is what setResume recorded.
func (d *Driver) resumePoint() (*WebSocket, *wsWriter, func()) {
	d.turns.mu.Lock()
	defer d.turns.mu.Unlock()
	return d.turns.sock, d.turns.w, d.turns.end
}

// setResume records what a new goroutine reads on with after a hand-off.
func (d *Driver) setResume(sock *WebSocket, w *wsWriter, end func()) {
	d.turns.mu.Lock()
	d.turns.sock, d.turns.w, d.turns.end = sock, w, end
	d.turns.mu.Unlock()
}

// finishInput ends the reader's input: it runs the first turn the message
// made ready (the others on goroutines of their own) and writes the output
// the run deferred, under the watch. It reports whether the reader is still
// the reader: false when the run lasted and a new goroutine took over
// reading, in which case the caller must return at once.
func (d *Driver) finishInput(ready []func(), w *wsWriter) bool {
	t := &d.turns
	if len(ready) == 0 && !t.deferred.Load() {
		t.inline.Store(false)
		if t.deferred.Swap(false) {
			w.start()
		}
		return true
	}
	if len(ready) > 1 {
		for _, fn := range ready[1:] {
			d.opts.Go(fn)
		}
	}
	run := (t.run.Load()/4 + 1) * 4
	t.run.Store(run | inlineRunning)
	watch.add(d, run)
	if len(ready) > 0 {
		ready[0]()
	}
	if t.deferred.Swap(false) {
		w.flush()
	}
	watch.remove(d, run)
	if !t.run.CompareAndSwap(run|inlineRunning, run|inlineDone) {
		// Reading went on without us: this goroutine was counted as
		// application code when it was handed off.
		d.opts.Track(-1)
		return false
	}
	t.inline.Store(false)
	if t.deferred.Swap(false) {
		w.start()
	}
	d.recycle(ready)
	return true
}

// handOff ends the reader's part in run if it is still running: a new
// goroutine reads on, the writer gets its own if a write waits, and the
// old goroutine is counted as application code.
func (d *Driver) handOff(run uint64) {
	t := &d.turns
	// Counted before the old reader can learn it was handed off (and
	// uncount itself), so that the count never goes below zero.
	d.opts.Track(1)
	if !t.run.CompareAndSwap(run|inlineRunning, run|inlineHandedOff) {
		d.opts.Track(-1)
		return
	}
	t.inline.Store(false)
	sock, w, end := d.resumePoint()
	if t.deferred.Swap(false) {
		w.start()
	}
	go d.readLoop(sock, w, end)
}

// watch hands off the inline runs that last.
var watch turnWatch

// watchLinger is how many ticks with no driver listed the watch's
// goroutine waits before it ends; the next run starts a new one.
const watchLinger = 50

// listLinger is how many ticks after its last run began a driver stays
// listed: a busy connection's runs cost two atomic stores each, and a
// tick scans only the connections that had a message lately.
const listLinger = 4

// turnWatch lists the drivers whose reader ran a turn lately; each run
// is two atomic stores in its driver (add, remove), and a busy driver is
// listed once for all its runs: a lock and a map entry per message were
// some 7% of the user-mode CPU per message with 100 clients.
type turnWatch struct {
	shards [8]watchShard
	tick   atomic.Uint64
	alive  atomic.Bool // a goroutine ticks
	next   atomic.Uint32
	late   atomic.Uint64 // tests: lateTicks, when not 0
}

type watchShard struct {
	mu      sync.Mutex
	drivers map[*Driver]struct{}
	_       [40]byte // a cache line each
}

// lateTicks is how many ticks after it started a run is handed off: 2 (it
// has lasted one tick at least), unless a test says otherwise.
func (w *turnWatch) lateTicks() uint64 {
	if n := w.late.Load(); n != 0 {
		return n
	}
	return 2
}

// shardOf gives a new driver its shard.
func (w *turnWatch) shardOf() uint32 { return w.next.Add(1) % uint32(len(w.shards)) }

// add watches d's run from now.
func (w *turnWatch) add(d *Driver, run uint64) {
	t := &d.turns
	t.wtick.Store(w.tick.Load())
	t.wrun.Store(run)
	// After the store: a watch that unlists d meanwhile either sees the
	// run, and keeps d, or unlisted it before this load, which sees it.
	if t.listed.Load() {
		return
	}
	s := &w.shards[t.shard]
	s.mu.Lock()
	if s.drivers == nil {
		s.drivers = make(map[*Driver]struct{})
	}
	s.drivers[d] = struct{}{}
	t.listed.Store(true)
	s.mu.Unlock()
	if !w.alive.Load() && w.alive.CompareAndSwap(false, true) {
		go w.loop()
	}
}

// remove ends the watch of d's run. A run handed off may end after the
// new reader's next run began: that one stays watched.
func (w *turnWatch) remove(d *Driver, run uint64) {
	d.turns.wrun.CompareAndSwap(run, 0)
}

type lateRun struct {
	d   *Driver
	run uint64
}

// scan hands off the runs that began two ticks ago or more (they have
// lasted one tick at least), unlists the drivers with no run since
// listLinger ticks, and returns how many drivers stay listed.
func (w *turnWatch) scan(tick uint64, late []lateRun) (int, []lateRun) {
	n := 0
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		for d := range s.drivers {
			t := &d.turns
			run := t.wrun.Load()
			if run == 0 {
				if tick-t.wtick.Load() < listLinger {
					continue
				}
				t.listed.Store(false)
				if t.wrun.Load() != 0 {
					// A run began, and its add may have seen d listed.
					t.listed.Store(true)
					continue
				}
				delete(s.drivers, d)
				continue
			}
			// The tick is the run's if the run is the same after it: a
			// run stores its tick before itself.
			began := t.wtick.Load()
			if t.wrun.Load() == run && tick-began >= w.lateTicks() {
				late = append(late, lateRun{d, run})
			}
		}
		n += len(s.drivers)
		s.mu.Unlock()
	}
	for _, l := range late {
		l.d.handOff(l.run)
	}
	clear(late)
	return n, late[:0]
}

func (w *turnWatch) loop() {
	t := time.NewTicker(inlineHandoff)
	defer t.Stop()
	var late []lateRun
	for idle := 0; ; {
		<-t.C
		var n int
		if n, late = w.scan(w.tick.Add(1), late); n > 0 {
			idle = 0
			continue
		}
		if idle++; idle < watchLinger {
			continue
		}
		// Going: a driver listed from now on starts a new goroutine, and
		// one listed before is seen here.
		w.alive.Store(false)
		if n, _ = w.scan(w.tick.Load(), late); n == 0 || !w.alive.CompareAndSwap(false, true) {
			return
		}
		idle = 0
	}
}
