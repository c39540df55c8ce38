package sio

import "slices"

// AckTable holds the acknowledgements a side is waiting for: their ids,
// their deadlines, and the guarantee that each is resolved exactly once —
// answered (Resolve), timed out (Expire) or cancelled (Drain).
//
// Ids start at 0 and increase by one per Add, never reused, even across
// Drain. Deadlines are int64 instants on any clock the caller chooses (unix
// nanoseconds, a monotonic count); 0 means no deadline. Memory is bounded
// by the number of pending entries: resolved entries are removed and their
// values cleared at once. The zero value is an empty table. An AckTable is
// not safe for concurrent use.
type AckTable[T any] struct {
	next  int64
	index map[int64]int32 // id -> slot
	slots []ackSlot[T]
	free  []int32 // unused slots
	heap  []int32 // slots with a deadline, a min-heap on (deadline, id)
}

type ackSlot[T any] struct {
	id       int64
	deadline int64
	hpos     int32 // index in heap, or -1
	v        T
}

// Add records a pending acknowledgement carrying v and returns its id.
// deadline 0 means it never expires (only Resolve or Drain end it).
func (t *AckTable[T]) Add(v T, deadline int64) (id int64) {
	if t.index == nil {
		t.index = make(map[int64]int32)
	}
	id = t.next
	t.next++
	var s int32
	if n := len(t.free); n > 0 {
		s = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		s = int32(len(t.slots))
		t.slots = append(t.slots, ackSlot[T]{})
	}
	t.slots[s] = ackSlot[T]{id: id, deadline: deadline, hpos: -1, v: v}
	t.index[id] = s
	if deadline != 0 {
		t.slots[s].hpos = int32(len(t.heap))
		t.heap = append(t.heap, s)
		t.up(len(t.heap) - 1)
	}
	return id
}

// Resolve removes the entry id and returns its value. ok is false when id is
// unknown or already resolved, expired or drained.
func (t *AckTable[T]) Resolve(id int64) (v T, ok bool) {
	s, ok := t.index[id]
	if !ok {
		return v, false
	}
	return t.remove(s), true
}

// Expire removes every entry whose deadline is at or before now and calls fn
// for each, earliest deadline first (ties by id). fn may use the table; an
// entry it adds with a deadline at or before now is expired by this call too.
func (t *AckTable[T]) Expire(now int64, fn func(id int64, v T)) {
	for len(t.heap) > 0 {
		s := t.heap[0]
		if t.slots[s].deadline > now {
			return
		}
		id := t.slots[s].id
		v := t.remove(s)
		if fn != nil {
			fn(id, v)
		}
	}
}

// NextDeadline returns the earliest deadline of the pending entries, and
// false when none has a deadline.
func (t *AckTable[T]) NextDeadline() (int64, bool) {
	if len(t.heap) == 0 {
		return 0, false
	}
	return t.slots[t.heap[0]].deadline, true
}

// Drain removes every entry, then calls fn for each in id order (a
// disconnect cancels them all). Ids keep increasing afterwards.
func (t *AckTable[T]) Drain(fn func(id int64, v T)) {
	type entry struct {
		id int64
		v  T
	}
	all := make([]entry, 0, len(t.index))
	for _, s := range t.index {
		all = append(all, entry{t.slots[s].id, t.slots[s].v})
	}
	slices.SortFunc(all, func(a, b entry) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	t.index, t.slots, t.free, t.heap = nil, nil, nil, nil
	if fn != nil {
		for _, e := range all {
			fn(e.id, e.v)
		}
	}
}

// Len returns the number of pending entries.
func (t *AckTable[T]) Len() int { return len(t.index) }

// remove takes slot s out of the table and returns its value.
func (t *AckTable[T]) remove(s int32) T {
	sl := &t.slots[s]
	v := sl.v
	delete(t.index, sl.id)
	if i := int(sl.hpos); i >= 0 {
		last := len(t.heap) - 1
		if i != last {
			t.swap(i, last)
		}
		t.heap = t.heap[:last]
		if i != last {
			if !t.down(i) {
				t.up(i)
			}
		}
	}
	*sl = ackSlot[T]{hpos: -1}
	if len(t.index) == 0 {
		// Nothing pending: forget the slots, keeping their capacity.
		clear(t.slots)
		t.slots, t.free = t.slots[:0], t.free[:0]
	} else {
		t.free = append(t.free, s)
	}
	return v
}

func (t *AckTable[T]) less(i, j int) bool {
	a, b := &t.slots[t.heap[i]], &t.slots[t.heap[j]]
	if a.deadline != b.deadline {
		return a.deadline < b.deadline
	}
	return a.id < b.id
}

func (t *AckTable[T]) swap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.slots[t.heap[i]].hpos = int32(i)
	t.slots[t.heap[j]].hpos = int32(j)
}

func (t *AckTable[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

// down sifts i down and reports whether it moved.
func (t *AckTable[T]) down(i int) bool {
	start := i
	n := len(t.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && t.less(r, l) {
			m = r
		}
		if !t.less(m, i) {
			break
		}
		t.swap(i, m)
		i = m
	}
	return i > start
}
