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

// writerRuns counts the writers run on workers: a reader that sees it move
// while it handles a message knows the process has work queued, which
// delays the poller (fastread.go).
var writerRuns atomic.Uint64

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
	writerRuns.Add(1)
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
		reserveStack()
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

// writeStack is more than the frames of a writer's path from work down to
// the write system call take (about 1.6 KiB).
const writeStack = 2 << 10

// reserveStack makes the calling worker's stack deep enough for a write.
//
// A new worker's stack is 2 KiB, and a collection halves a parked
// worker's, down to 2 KiB: less than a write takes, with the runtime's
// guard. Grown where the write system call overflows it, the stack is
// copied with the twenty frames above that point, each unwound and
// adjusted; in a profile of a broadcast to 10,000 clients that growth was
// a tenth of the CPU. Grown here, at the worker's shallowest point, two
// frames are copied, and only when the stack is short: otherwise this is
// a check and the clearing of writeStack bytes.
//
//go:noinline
func reserveStack() {
	var pad [writeStack]byte
	keep(pad[:])
}

//go:noinline
func keep([]byte) {}
