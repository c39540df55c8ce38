package core

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// InboxLimits bound what waits for one socket's handlers. When either is
// reached, the connection stops reading (ReadPaused) until the handlers
// catch up; a packet already read is never dropped.
type InboxLimits struct {
	// Events bounds the events, acknowledgement callbacks and lifecycle
	// calls waiting. Default 256.
	Events int
	// Bytes bounds the size of the packets waiting. Default 1 MiB.
	Bytes int
}

func (l InboxLimits) withDefaults() InboxLimits {
	if l.Events <= 0 {
		l.Events = 256
	}
	if l.Bytes <= 0 {
		l.Bytes = 1 << 20
	}
	return l
}

// task is one turn of a socket: an incoming event (ev), or any other call
// that must run in the socket's order (fn).
type task struct {
	ev   *Event
	fn   func()
	size int
}

// inbox is a socket's queue of turns: a ring that grows to its high-water
// mark, and whether a runner is draining it.
type inbox struct {
	mu      sync.Mutex
	q       []task
	head, n int
	bytes   int
	running bool
	full    bool // counted in the connection's paused sockets
}

func (b *inbox) push(t task) {
	if b.n == len(b.q) {
		// Most turns come alone: start with one slot, as an idle
		// connection keeps the ring of its last burst when it has at
		// most four (see pop).
		grown := make([]task, max(1, 2*len(b.q)))
		for i := 0; i < b.n; i++ {
			grown[i] = b.q[(b.head+i)%len(b.q)]
		}
		b.q, b.head = grown, 0
	}
	b.q[(b.head+b.n)%len(b.q)] = t
	b.n++
	b.bytes += t.size
}

func (b *inbox) pop() task {
	t := b.q[b.head]
	b.q[b.head] = task{}
	b.head = (b.head + 1) % len(b.q)
	b.n--
	b.bytes -= t.size
	if b.n == 0 {
		b.head = 0
		if len(b.q) > 4 {
			b.q = nil // a burst is over: give its memory back
		}
	}
	return t
}

// enqueue adds a turn to the socket and, when no runner is draining its
// inbox, asks the adapter for one. It never blocks and never drops: a full
// inbox pauses the connection's reads instead.
func (s *Socket) enqueue(t task) {
	lim := s.nsp.srv.cfg.Inbox
	b := &s.in
	b.mu.Lock()
	b.push(t)
	pause := !b.full && (b.n >= lim.Events || b.bytes >= lim.Bytes)
	if pause {
		b.full = true
	}
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if pause {
		s.conn.pauseReads(1)
	}
	if start {
		s.conn.run(s.drainFn)
	}
}

// drain runs the socket's turns in order until the inbox is empty. One
// runs at a time per socket: the adapter's goroutine while there is work.
func (s *Socket) drain() {
	lim := s.nsp.srv.cfg.Inbox
	b := &s.in
	for {
		b.mu.Lock()
		if b.n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		t := b.pop()
		resume := b.full && b.n < lim.Events && b.bytes < lim.Bytes
		if resume {
			b.full = false
		}
		b.mu.Unlock()
		if resume {
			s.conn.pauseReads(-1)
		}
		s.runTask(t)
	}
}

// runTask runs one turn. A handler that panics is logged with its stack,
// and the socket goes on with its next turn, as an HTTP server goes on
// after a handler's panic.
func (s *Socket) runTask(t task) {
	defer func() {
		if r := recover(); r != nil {
			s.nsp.srv.log.Error("sio: handler panicked", "nsp", s.nsp.name, "socket", s.id,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	if t.ev != nil {
		s.dispatch(t.ev)
		return
	}
	t.fn()
}

// queued wraps an application's ack callback so that it runs as a turn of
// the socket, in order with its handlers, and never on the goroutine that
// resolved it (a reader or a timer).
func (s *Socket) queued(fn AckFunc) AckFunc {
	return func(args Args, err error) {
		s.enqueue(task{fn: func() { fn(args, err) }, size: argsSize(args)})
	}
}

func argsSize(a Args) int {
	n := 0
	for _, r := range a {
		n += len(r.JSON)
	}
	if len(a) > 0 { // every argument shares the packet's attachments
		for _, b := range a[0].Attachments {
			n += len(b)
		}
	}
	return n
}
