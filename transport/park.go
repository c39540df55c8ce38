package transport

// Parking: an idle WebSocket session holds no goroutine.
//
// A goroutine costs an idle connection more than anything else it holds
// (its stack, 2 to 8 KiB, against some 10 KiB for everything else), and
// most connections are idle most of the time. So a reader about to wait
// for bytes may park its connection instead: it registers the connection
// in the process's parking lot (an epoll instance, park_linux.go) and
// ends; once the connection is readable, the lot starts a new goroutine
// that reads on. A park costs a system call, and a wake a goroutine: so
// the reader parks only where waiting is likely to be long, right after
// the session's first messages (a client that has just connected is
// mostly idle from then on), and, in time, after a second of silence
// (idle.go).
//
// Closing the connection takes it out of the lot without an event, so
// corkConn.Close wakes the parked reader itself, which then reads the
// close. Elsewhere than on Linux, and for a connection that is not a
// plain socket (TLS), nothing parks.

// parkEarly is how many of the session's first messages are each
// followed by a park.
const parkEarly = 2

// parkReader parks sock's reader; true when it did, and the caller must
// end.
func (d *Driver) parkReader(sock *WebSocket) bool {
	if !sock.drained() {
		return false
	}
	sock.nc.dropAlt()
	return lot.park(d, sock.nc)
}

// unparked runs the reader of a parked connection again, on a new
// goroutine.
func (d *Driver) unparked() {
	sock, w, end := d.resumePoint()
	go d.readOn(sock, w, end, true)
}

// drained reports whether the connection holds no byte read already and
// not yet taken: a parked connection is woken only by new bytes.
func (w *WebSocket) drained() bool {
	if !w.canWait() || !w.pre.mu.TryLock() {
		return false // or a read is in progress (a close handshake)
	}
	defer w.pre.mu.Unlock()
	return w.pre.buf == nil && w.pre.err == nil
}
