package sio

// Put records a pending acknowledgement under an id the caller chose, as
// Socket.IO servers do with a namespace-wide counter shared by every socket
// and broadcast. It reports false, and records nothing, when id is already
// pending: the entry there keeps its exactly-once guarantee. Later Adds
// continue after the largest id seen.
func (t *AckTable[T]) Put(id int64, v T, deadline int64) bool {
	if _, ok := t.index[id]; ok {
		return false
	}
	next := t.next
	t.next = id
	t.Add(v, deadline)
	t.next = max(next, id+1)
	return true
}
