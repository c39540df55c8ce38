package transport

import "time"

// HoldInlineRuns makes the watch hand off no inline run for the rest of
// the test: a turn that waits is then handed off only by what it says.
func HoldInlineRuns(cleanup func(func())) {
	watch.late.Store(1 << 62)
	cleanup(func() { watch.late.Store(0) })
}

// ParkedReaders is how many WebSocket connections wait in the parking lot
// (park.go), and CanPark whether they can here.
func ParkedReaders() int { return lot.count() }

// Parks is how many parks there have been.
func Parks() uint64 { return lot.parks() }

const CanPark = canPark

// SetIdleTick sets the idle sweep's tick for the rest of the test; it
// applies from the sweep's next start.
func SetIdleTick(tick time.Duration, cleanup func(func())) {
	sweep.mu.Lock()
	old := sweep.tick
	sweep.tick = tick
	sweep.mu.Unlock()
	cleanup(func() {
		sweep.mu.Lock()
		sweep.tick = old
		sweep.mu.Unlock()
	})
}

// WriterWorkers is how many writer workers are parked, how many writers
// have not finished, and how many workers have started so far.
func WriterWorkers() (idle, live int, started uint64) {
	workers.mu.Lock()
	defer workers.mu.Unlock()
	return len(workers.idle), workers.live, workers.started.Load()
}
