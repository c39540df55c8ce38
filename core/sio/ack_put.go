package sio

// Put records a pending acknowledgement under an id the caller chose, as
// Socket.IO servers do with a namespace-wide counter shared by broadcasts.
// An entry already pending under id is replaced. Ids from Add and Put must
// not be mixed in one table.
func (t *AckTable[T]) Put(id int64, v T, deadline int64) {
	if _, ok := t.index[id]; ok {
		t.Resolve(id)
	}
	next := t.next
	t.next = id
	t.Add(v, deadline)
	t.next = max(next, id+1)
}
