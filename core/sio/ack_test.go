package sio

import (
	"slices"
	"testing"
)

func TestAckTableBasics(t *testing.T) {
	var tab AckTable[string]
	if _, ok := tab.NextDeadline(); ok || tab.Len() != 0 {
		t.Fatal("zero table not empty")
	}
	a := tab.Add("a", 30)
	b := tab.Add("b", 0)
	c := tab.Add("c", 10)
	d := tab.Add("d", 10)
	if a != 0 || b != 1 || c != 2 || d != 3 || tab.Len() != 4 {
		t.Fatal(a, b, c, d)
	}
	if dl, ok := tab.NextDeadline(); !ok || dl != 10 {
		t.Fatal(dl, ok)
	}
	if v, ok := tab.Resolve(c); !ok || v != "c" {
		t.Fatal(v, ok)
	}
	if _, ok := tab.Resolve(c); ok {
		t.Fatal("resolved twice")
	}
	if _, ok := tab.Resolve(99); ok {
		t.Fatal("unknown id resolved")
	}
	var got []string
	tab.Expire(9, func(id int64, v string) { got = append(got, v) })
	if len(got) != 0 {
		t.Fatal(got)
	}
	tab.Expire(10, func(id int64, v string) { got = append(got, v) })
	if !slices.Equal(got, []string{"d"}) {
		t.Fatal(got)
	}
	if dl, _ := tab.NextDeadline(); dl != 30 {
		t.Fatal(dl)
	}
	got = nil
	tab.Drain(func(id int64, v string) { got = append(got, v) })
	if !slices.Equal(got, []string{"a", "b"}) || tab.Len() != 0 {
		t.Fatal(got)
	}
	// Ids keep increasing after a drain.
	if id := tab.Add("e", 0); id != 4 {
		t.Fatal(id)
	}
	// Negative deadlines are deadlines.
	tab.Add("f", -5)
	if dl, ok := tab.NextDeadline(); !ok || dl != -5 {
		t.Fatal(dl, ok)
	}
}

func TestAckTableExpireReentrant(t *testing.T) {
	var tab AckTable[int]
	tab.Add(1, 5)
	tab.Add(2, 6)
	var got []int
	tab.Expire(10, func(id int64, v int) {
		got = append(got, v)
		if v == 1 {
			tab.Resolve(id) // already gone: no effect
			tab.Add(3, 8)   // due too: expired by this call
			tab.Add(4, 20)  // not due
		}
	})
	if !slices.Equal(got, []int{1, 2, 3}) || tab.Len() != 1 {
		t.Fatal(got, tab.Len())
	}
}

func TestAckTableMemoryBounded(t *testing.T) {
	var tab AckTable[*[1024]byte]
	for round := 0; round < 100; round++ {
		ids := make([]int64, 0, 50)
		for i := 0; i < 50; i++ {
			ids = append(ids, tab.Add(new([1024]byte), int64(round*100+i+1)))
		}
		for _, id := range ids[:25] {
			tab.Resolve(id)
		}
		tab.Expire(int64(round*100+1000), nil)
	}
	if tab.Len() != 0 || cap(tab.slots) > 128 || len(tab.heap) != 0 || len(tab.index) != 0 {
		t.Fatalf("len %d slots cap %d", tab.Len(), cap(tab.slots))
	}
	// Resolved values are not kept alive by the table.
	tab.Add(new([1024]byte), 0)
	tab.Add(new([1024]byte), 0)
	tab.Resolve(tab.next - 2)
	for _, s := range tab.slots {
		if s.v != nil && s.id != tab.next-1 {
			t.Fatal("resolved value still referenced")
		}
	}
}

func TestAckTable_Put(t *testing.T) {
	var tab AckTable[string]
	if !tab.Put(7, "a", 0) || !tab.Put(3, "b", 100) {
		t.Fatal("put refused on free ids")
	}
	if tab.Put(7, "c", 0) {
		t.Fatal("put replaced a pending entry")
	}
	if v, ok := tab.Resolve(7); !ok || v != "a" {
		t.Fatalf("resolve 7 = %q %v", v, ok)
	}
	if id := tab.Add("d", 0); id != 8 {
		t.Fatalf("add after put = %d, want 8", id)
	}
	var expired []string
	tab.Expire(100, func(_ int64, v string) { expired = append(expired, v) })
	if len(expired) != 1 || expired[0] != "b" || tab.Len() != 1 {
		t.Fatalf("expired %q, len %d", expired, tab.Len())
	}
}
