package httpadapter_test

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkLeaks records the goroutines alive now and, when the test ends (its
// cleanups run in reverse order, so register it first), fails the test if
// any goroutine started since is still alive once things settle.
func checkLeaks(t *testing.T) {
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
				if !before[g.id] && !ignoredGoroutine(g.stack) {
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

// ignoredGoroutine reports the goroutines of the test runner and the
// runtime, which are not the code under test.
func ignoredGoroutine(stack string) bool {
	for _, s := range []string{
		"testing.tRunner(",
		"testing.(*T).Run(",
		"testing.runTests(",
		"testing.(*M).",
		"os/signal.signal_recv",
		"runtime.ensureSigM",
		"created by runtime.gc",
		"runtime.goexit0",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}
