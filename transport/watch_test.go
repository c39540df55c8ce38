package transport

import (
	"sync"
	"sync/atomic"
	"testing"
)

// listedIn reports whether d is in its shard of w.
func listedIn(w *turnWatch, d *Driver) bool {
	s := &w.shards[d.turns.shard]
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.drivers[d]
	return ok
}

// A driver is listed by its first run and stays so across runs, until
// listLinger ticks after its last run began.
func TestWatchListsOnce(t *testing.T) {
	var w turnWatch
	w.alive.Store(true) // no goroutine: the test ticks
	d := NewDriver(Options{})
	for run := uint64(4); run <= 40; run += 4 {
		w.add(d, run)
		if !listedIn(&w, d) || d.turns.wrun.Load() != run {
			t.Fatalf("run %d: listed %v, watched run %d", run, listedIn(&w, d), d.turns.wrun.Load())
		}
		w.remove(d, run)
		if d.turns.wrun.Load() != 0 {
			t.Fatalf("run %d: still watched after its end", run)
		}
	}
	// A run that ended after the next began leaves that one watched.
	w.add(d, 44)
	w.remove(d, 40)
	if d.turns.wrun.Load() != 44 {
		t.Fatalf("watched run %d, want 44", d.turns.wrun.Load())
	}
	w.remove(d, 44)

	start := w.tick.Load()
	if n, _ := w.scan(start+listLinger-1, nil); n != 1 || !listedIn(&w, d) {
		t.Fatalf("%d listed before the linger ended", n)
	}
	if n, _ := w.scan(start+listLinger, nil); n != 0 || listedIn(&w, d) || d.turns.listed.Load() {
		t.Fatalf("%d listed after the linger", n)
	}
	w.add(d, 48)
	if !listedIn(&w, d) {
		t.Fatal("not listed again by its next run")
	}
}

// A run under way is always listed, while the watch unlists the driver as
// often as it can: a run that begins as the watch unlists its driver
// lists it again.
func TestWatchNeverLosesARun(t *testing.T) {
	var w turnWatch
	w.alive.Store(true)
	w.late.Store(1 << 62) // no hand-off: the driver has no session
	d := NewDriver(Options{})
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			// Every scan is listLinger ticks after the last: an idle
			// driver is unlisted at each.
			w.scan(w.tick.Add(listLinger), nil)
		}
	})
	for run := uint64(4); run < 4*20000; run += 4 {
		w.add(d, run)
		if !listedIn(&w, d) {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("run %d under way and its driver not listed", run)
		}
		w.remove(d, run)
	}
	stop.Store(true)
	wg.Wait()
}
