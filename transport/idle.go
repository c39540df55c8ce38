package transport

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The idle sweep: a reader that has waited a second or more for its next
// message parks (park.go). A session parks right after its first
// messages; one that talked and then went quiet would otherwise keep its
// goroutine for good.
//
// One goroutine for the process ticks while WebSocket readers that can
// park exist. A reader marks when it waits; a tick that finds a reader
// waiting with no message read since the tick before interrupts its wait,
// with a read deadline in the past, and the reader parks. Nothing else
// sets read deadlines on these connections (the WebSocket library bounds
// its reads with contexts, which close the connection instead), so the
// deadline is cleared as soon as the wait it interrupted returns.

// idleTick is the sweep's tick: a reader idle for one to two ticks parks.
const idleTick = time.Second

// The states of a reader's wait.
const (
	notWaiting int32 = iota
	waiting
	interrupted // its deadline is set (or about to be, under idleMu)
)

type idleSweep struct {
	shards [8]idleShard
	mu     sync.Mutex
	alive  bool
	stop   chan struct{} // tells the goroutine to look: the last reader left
	tick   time.Duration // idleTick, unless a test says otherwise
}

type idleShard struct {
	mu      sync.Mutex
	readers map[*Driver]uint64 // the reads each had at the last tick
	_       [40]byte
}

var sweep = idleSweep{stop: make(chan struct{}, 1), tick: idleTick}

// add follows d's reader; d may park.
func (s *idleSweep) add(d *Driver) {
	sh := &s.shards[d.turns.shard%uint32(len(s.shards))]
	sh.mu.Lock()
	if sh.readers == nil {
		sh.readers = make(map[*Driver]uint64)
	}
	sh.readers[d] = d.reads.Load()
	sh.mu.Unlock()
	s.mu.Lock()
	if !s.alive {
		s.alive = true
		go s.run(s.tick)
	}
	s.mu.Unlock()
}

// remove stops following d's reader: its session has ended.
func (s *idleSweep) remove(d *Driver) {
	sh := &s.shards[d.turns.shard%uint32(len(s.shards))]
	sh.mu.Lock()
	delete(sh.readers, d)
	empty := len(sh.readers) == 0
	sh.mu.Unlock()
	if empty {
		select {
		case s.stop <- struct{}{}:
		default:
		}
	}
}

func (s *idleSweep) run(tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	var idle []*Driver
	for {
		select {
		case <-t.C:
		case <-s.stop:
		}
		n := 0
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.Lock()
			for d, last := range sh.readers {
				r := d.reads.Load()
				if r == last && d.waitState.Load() == waiting {
					idle = append(idle, d)
				}
				sh.readers[d] = r
			}
			n += len(sh.readers)
			sh.mu.Unlock()
		}
		for i, d := range idle {
			d.interruptWait()
			idle[i] = nil
		}
		idle = idle[:0]
		if n == 0 {
			s.mu.Lock()
			if s.empty() {
				s.alive = false
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	}
}

func (s *idleSweep) empty() bool {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n := len(sh.readers)
		sh.mu.Unlock()
		if n > 0 {
			return false
		}
	}
	return true
}

// interruptWait ends the wait of d's reader, which then parks.
func (d *Driver) interruptWait() {
	sock, _, _ := d.resumePoint()
	if sock == nil || d.conn.Closed() {
		return // a close handshake may be reading: leave it be
	}
	d.idleMu.Lock()
	if d.waitState.CompareAndSwap(waiting, interrupted) {
		sock.nc.setReadDeadline(time.Unix(1, 0))
	}
	d.idleMu.Unlock()
}

// waitIdle waits until sock is readable, as waitReadable does, under the
// sweep's eye: true when the sweep interrupted the wait, and the reader
// should park.
func (d *Driver) waitIdle(sock *WebSocket) bool {
	if !sock.canWait() {
		return false
	}
	rc := sock.nc.readRC()
	if rc == nil {
		return false // closing: the read meets it
	}
	d.waitState.Store(waiting)
	err := rc.Read(sock.pre.fillFn)
	if d.waitState.Swap(notWaiting) != interrupted {
		return false
	}
	d.idleMu.Lock()
	sock.nc.setReadDeadline(time.Time{})
	d.idleMu.Unlock()
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// sweepState is a reader's part in the sweep, in its Driver.
type sweepState struct {
	reads     atomic.Uint64 // WebSocket messages read
	waitState atomic.Int32
	idleMu    sync.Mutex // orders the sweep's deadline before the reader's clearing of it
}
