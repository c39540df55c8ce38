package peertest

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// CheckLeaks records the goroutines alive now and, when the test ends (its
// cleanups run in reverse order, so register it first), fails the test if
// any goroutine started since is still alive once things settle. A
// goroutine whose stack contains one of ignore (or one of the test
// runner's and the runtime's own) is not counted.
func CheckLeaks(t testing.TB, ignore ...string) {
	t.Helper()
	before := map[int]bool{}
	for _, g := range goroutines() {
		before[g.id] = true
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			var leaked []string
			for _, g := range goroutines() {
				if !before[g.id] && !ignored(g.stack, ignore) {
					leaked = append(leaked, g.stack)
				}
			}
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutine(s) outlived Close:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			// Goroutines that are ending need a moment to be gone: poll.
			time.Sleep(10 * time.Millisecond)
		}
	})
}

type goroutine struct {
	id    int
	stack string
}

func goroutines() []goroutine {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []goroutine
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		s := string(g)
		head, _, _ := strings.Cut(s, " [")
		id, err := strconv.Atoi(strings.TrimPrefix(head, "goroutine "))
		if err != nil {
			continue
		}
		out = append(out, goroutine{id: id, stack: s})
	}
	return out
}

// runnerGoroutines are the test runner's and the runtime's, which are not
// the code under test.
var runnerGoroutines = []string{
	"testing.tRunner(",
	"testing.(*T).Run(",
	"testing.runTests(",
	"testing.(*M).",
	"os/signal.signal_recv",
	"runtime.ensureSigM",
	"created by runtime.gc",
	"runtime.goexit0",
}

func ignored(stack string, extra []string) bool {
	for _, list := range [][]string{runnerGoroutines, extra} {
		for _, s := range list {
			if strings.Contains(stack, s) {
				return true
			}
		}
	}
	return false
}
