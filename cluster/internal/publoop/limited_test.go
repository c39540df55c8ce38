package publoop

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// records is a slog handler that keeps the messages it is given.
type records struct {
	mu   sync.Mutex
	msgs []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Level.String()+" "+rec.Message)
	r.mu.Unlock()
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func (r *records) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// At most one line a second of each kind, however many goroutines warn.
func TestLimited(t *testing.T) {
	rec := &records{}
	l := &Limited{Log: slog.New(rec)}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				l.Warn("a", "a failed")
			}
		}()
	}
	wg.Wait()
	if n := rec.count(); n != 1 {
		t.Fatalf("%d lines of kind a, want 1", n)
	}
	l.Warn("b", "b failed")
	if n := rec.count(); n != 2 {
		t.Fatalf("%d lines after another kind, want 2", n)
	}
	// Kind a's last line, a second ago (just under, then just over).
	v, _ := l.last.Load("a")
	last := v.(*atomic.Int64)
	last.Store(time.Now().Add(-time.Second + 100*time.Millisecond).UnixNano())
	l.Warn("a", "a failed")
	if n := rec.count(); n != 2 {
		t.Fatalf("%d lines after a line less than a second ago, want 2", n)
	}
	last.Store(time.Now().Add(-time.Second - time.Millisecond).UnixNano())
	l.Warn("a", "a failed again")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if want := []string{"WARN a failed", "WARN b failed", "WARN a failed again"}; len(rec.msgs) != 3 || rec.msgs[0] != want[0] || rec.msgs[1] != want[1] || rec.msgs[2] != want[2] {
		t.Fatalf("lines %q, want %q", rec.msgs, want)
	}
}
