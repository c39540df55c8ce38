package transport

import (
	"sync"
	"sync/atomic"
)

// The goroutines that run WebSocket writers are kept for the next writer
// that starts, rather than started anew for each batch.
//
// A writer's path down to the write system call is deeper than the first
// stack the runtime gives a goroutine. A goroutine started for one batch
// therefore grew its stack (allocated a bigger one and copied the old)
// before its first write: in a profile of cluster nodes broadcasting to 100
// clients at a paced rate, goroutine starts and stack growth took a sixth
// of the CPU. A worker kept here keeps its grown stack, until a collection
// finds it idle and shrinks it.
//
// A worker whose writer is done parks, unless maxIdleWorkers park already;
// the last one parked is the first one woken, as its stack is the likeliest
// to be still grown. A parked worker costs its stack (2 to 8 KiB). When the
// last writer of the process finishes, every parked worker ends: none
// outlives the sessions that used it.

// maxIdleWorkers bounds the workers parked at once.
const maxIdleWorkers = 256

type writerWorker struct {
	next chan *wsWriter // a writer to run; nil to end. Buffered: a wake never waits.
}

var workers struct {
	mu      sync.Mutex
	idle    []*writerWorker // LIFO
	live    int             // writers not finished, in every driver of the process
	started atomic.Uint64   // workers started, for the tests
}

// addWriter counts a writer that has started; its finish uncounts it.
func addWriter() {
	workers.mu.Lock()
	workers.live++
	workers.mu.Unlock()
}

// writerFinished uncounts a finished writer; the last one ends every parked
// worker.
func writerFinished() {
	workers.mu.Lock()
	workers.live--
	var idle []*writerWorker
	if workers.live == 0 {
		idle = workers.idle
		workers.idle = nil
	}
	workers.mu.Unlock()
	for _, k := range idle {
		k.next <- nil
	}
}

// runWriter runs w's loop on a parked worker, or on a new one when none is
// parked. The caller has claimed w.
func runWriter(w *wsWriter) {
	workers.mu.Lock()
	if n := len(workers.idle); n > 0 {
		k := workers.idle[n-1]
		workers.idle[n-1] = nil
		workers.idle = workers.idle[:n-1]
		workers.mu.Unlock()
		k.next <- w
		return
	}
	workers.mu.Unlock()
	workers.started.Add(1)
	go work(w)
}

// work runs writers until there is no room to park or no writer left.
func work(w *wsWriter) {
	var k *writerWorker
	for {
		w.run()
		workers.mu.Lock()
		if workers.live == 0 || len(workers.idle) >= maxIdleWorkers {
			workers.mu.Unlock()
			return
		}
		if k == nil {
			k = &writerWorker{next: make(chan *wsWriter, 1)}
		}
		workers.idle = append(workers.idle, k)
		workers.mu.Unlock()
		if w = <-k.next; w == nil {
			return
		}
	}
}
