package transport

import (
	"net"
	"os"
	"syscall"
	"time"
)

// What a fill read found (preReader.fillShort).
const (
	fillWait  = iota // nothing yet
	fillData         // bytes
	fillOther        // an error, the end of the stream, or a read in progress
)

// The fast read: a busy WebSocket read with one system call per message.
//
// The runtime's poller is edge-triggered. A read through it (net.Conn's,
// or syscall.RawConn's Read) first forgets any readiness the poller
// recorded, then reads, and waits only once a read found nothing: so each
// message costs the read that brings it and a second that finds the
// socket empty. On a virtual machine a system call costs a microsecond
// or more, and that second read was a third of the system calls of a
// busy echo (1.99 reads and 1 write per round trip).
//
// Within one RawConn.Read, though, the poller is waited on again without
// forgetting: readiness that came after the last read is kept. And a read
// that returns less than it asked for has emptied the socket: any later
// byte makes the socket ready again. So the reader handles its messages
// inside the read's callback, and once the last read was short (and
// recent: freshRead), waits for the poller without reading again. What it
// runs there is bounded by what the read brought:
//
//   - only whole messages: one whose frames are not all in the buffers is
//     left to the usual read (messageBuffered), which may wait mid-message;
//   - the turn the message made ready runs there too (turns.go); if it
//     blocks, the watch hands reading to a new goroutine, which cannot take
//     the socket's read lock that the callback holds: it reads through a
//     second descriptor of the socket (altConn), made then;
//   - Close does not wait for such a callback, which Go's Close would do
//     (it waits for every operation in progress on the descriptor): it
//     shuts the socket down at once (the peer sees the end, reads end),
//     and the callback's goroutine closes the descriptor as it leaves;
//   - an error, a close frame, a session that closed, one with no room
//     for more input, or one of the session's first messages (after which
//     it parks) leaves the callback, and the usual loop takes over.

// freshRead is how long after a read that emptied the socket the reader
// trusts the poller to report the next bytes. The poller looks only when
// a processor is idle: a process busy with work it has queued (a
// broadcast's writes) sees bytes that came meanwhile late, and reading
// them at once lets their work join what is queued (a broadcast's writes
// then carry several). So the reader reads again after a handling that
// lasted longer, where a read costs little, or during which writers were
// started (writerRuns), the sign of such work.
const freshRead = 50 * time.Microsecond

// Fast read outcomes (readFast).
const (
	fastNone        = iota // no fast read: read the usual way
	fastRead               // it ended with bytes, an error or a close to read the usual way
	fastRoom               // the session has no room for the next message: wait for it
	fastPark               // one of the session's first messages: park if drained
	fastFailed             // the read failed: d.fast.err ends the session
	fastHandedOff          // a turn lasted, and another goroutine reads on
	fastInterrupted        // the idle sweep ended the wait: park
)

// fastState is the reader's fast read, in its Driver. Only the goroutine
// that holds the socket's fast read (corkConn.holdFast) touches it.
type fastState struct {
	fn      func(fd uintptr) bool // step, made once
	sock    *WebSocket
	w       *wsWriter
	res     int
	err     error
	waiting bool // the callback asked the poller to wait
}

// readFast reads and handles sock's messages in a fast read, until one
// of them needs the usual loop; it reports why it ended.
func (d *Driver) readFast(sock *WebSocket, w *wsWriter) int {
	// canWait: a raw socket, with the buffers of sio's own reader.
	if sock.ws != nil || !sock.canWait() || !sock.nc.holdFast() {
		return fastNone
	}
	f := &d.fast
	if f.fn == nil {
		f.fn = d.fastStep
	}
	f.sock, f.w, f.res, f.err, f.waiting = sock, w, fastRead, nil, false
	err := sock.nc.rc.Read(f.fn)
	res := f.res
	if err != nil {
		res = fastRead // a close: the usual read meets it
		if f.waiting && d.waitState.Swap(notWaiting) == interrupted {
			d.idleMu.Lock()
			sock.nc.setReadDeadline(time.Time{})
			d.idleMu.Unlock()
			if os.IsTimeout(err) {
				res = fastInterrupted
			}
		}
	}
	f.sock, f.w, f.waiting = nil, nil, false
	sock.nc.releaseFast()
	return res
}

// fastStep is the fast read's callback: it reads what the socket holds,
// hands in the whole messages it brought, and asks the poller to wait
// (false) once the socket is empty; true ends the read, with f.res.
func (d *Driver) fastStep(fd uintptr) bool {
	f := &d.fast
	sock, nc := f.sock, f.sock.nc
	if f.waiting {
		f.waiting = false
		if d.waitState.Swap(notWaiting) == interrupted {
			// The sweep's deadline came with the bytes: clear it.
			d.idleMu.Lock()
			nc.setReadDeadline(time.Time{})
			d.idleMu.Unlock()
		}
	}
	for {
		if !nc.enterFast() {
			return true // closing
		}
		got, short := sock.pre.fillShort(fd)
		readAt, runs := time.Now(), writerRuns.Load()
		if got != fillData {
			if !nc.leaveFast() || got != fillWait {
				return true // an error, the end of the stream, or a read in progress
			}
			f.waiting = true
			d.waitState.Store(waiting)
			return false
		}
		for {
			if nc.closing() || !sock.messageBuffered() {
				return d.leaveFast(fastRead)
			}
			data, binary, err := sock.readMessage(d.opts.MaxPayload)
			if err != nil {
				f.err = err
				return d.leaveFast(fastFailed)
			}
			_, ready := d.handIn(sock, data, binary, nil)
			if !d.finishInput(ready, f.w) {
				return d.leaveFast(fastHandedOff)
			}
			switch {
			case d.conn.Closed():
				return d.leaveFast(fastRead)
			case d.paused():
				return d.leaveFast(fastRoom)
			case d.reads.Load() < parkEarly:
				return d.leaveFast(fastPark)
			}
			if !sock.bytesBuffered() {
				break
			}
		}
		if !nc.leaveFast() {
			return true
		}
		if short && writerRuns.Load() == runs && time.Since(readAt) < freshRead {
			// The read emptied the socket: the next byte makes it ready.
			f.waiting = true
			d.waitState.Store(waiting)
			return false
		}
	}
}

// leaveFast ends the fast read's callback with res, after the holder
// handled what it read.
func (d *Driver) leaveFast(res int) bool {
	d.fast.res = res
	d.fast.sock.nc.leaveFast()
	return true
}

// paused reports whether the session has no room for the next message now
// (waitRoom would wait).
func (d *Driver) paused() bool {
	p, ok := d.conn.(readPauser)
	return ok && p.ReadPaused() != nil
}

// bytesBuffered reports whether bytes read from the socket wait in the
// buffers.
func (w *WebSocket) bytesBuffered() bool {
	return w.br.Buffered() > 0 || !w.pre.empty()
}

// messageBuffered reports whether the buffers hold a whole message: its
// frames, and the control frames before it, to the end of its last frame.
// Reading it then takes no read of the socket. Only the reader calls it,
// on a WebSocket that sio reads itself (the close handshake of which reads
// nothing).
func (w *WebSocket) messageBuffered() bool {
	a, _ := w.br.Peek(w.br.Buffered())
	w.pre.mu.Lock()
	defer w.pre.mu.Unlock()
	var b []byte
	if w.pre.buf != nil {
		b = (*w.pre.buf)[w.pre.off:]
	}
	return wholeMessage(a, b)
}

// wholeMessage reports whether the stream a then b begins with a whole
// message: frames, from the first, until a data or continuation frame with
// FIN, all of whose bytes are there. A header the reader refuses may be
// counted either way: the reader then fails on that header, before its
// payload.
func wholeMessage(a, b []byte) bool {
	n := len(a) + len(b)
	at := func(i int) byte {
		if i < len(a) {
			return a[i]
		}
		return b[i-len(a)]
	}
	var h [14]byte
	for i := 0; ; {
		if n-i < 2 {
			return false
		}
		hl := headerSize(at(i + 1))
		if n-i < hl {
			return false
		}
		for k := range hl {
			h[k] = at(i + k)
		}
		size := payloadSize(h[:])
		if size > uint64(n-i-hl) {
			return false
		}
		i += hl + int(size)
		if h[0]&0x80 != 0 && h[0]&0x0f < opClose {
			return true // FIN on a data or continuation frame
		}
	}
}

// The socket's fast read, in corkConn: who holds it, and a close that
// came while its holder was handling messages.

// holdFast takes the socket's fast read for the caller; false when
// another goroutine holds it (a handed-off reader's turn still runs in
// it), or the connection is closing.
func (c *corkConn) holdFast() bool {
	c.fastMu.Lock()
	defer c.fastMu.Unlock()
	if c.fastHeld || c.closeBegun {
		return false
	}
	c.fastHeld = true
	return true
}

// enterFast marks the holder busy with what it reads; false when Close
// began, and the holder must leave.
func (c *corkConn) enterFast() bool {
	c.fastMu.Lock()
	defer c.fastMu.Unlock()
	if c.closeBegun {
		return false
	}
	c.fastBusy = true
	return true
}

// leaveFast marks the holder waiting again; false when a Close came
// meanwhile, and the holder must leave (releaseFast then closes).
func (c *corkConn) leaveFast() bool {
	c.fastMu.Lock()
	defer c.fastMu.Unlock()
	c.fastBusy = false
	return !c.closeLate
}

// releaseFast gives the fast read back, after the read returned; it
// closes the descriptor if a Close came while the holder was busy.
func (c *corkConn) releaseFast() {
	c.fastMu.Lock()
	c.fastHeld = false
	late := c.closeLate
	c.fastMu.Unlock()
	if late {
		_ = c.Conn.Close()
	}
}

// beginClose records that the connection is closing; late when the fast
// read's holder is busy, and closes the descriptor itself as it leaves.
// alt, if any, is for the caller to close.
func (c *corkConn) beginClose() (late bool, alt net.Conn) {
	c.fastMu.Lock()
	defer c.fastMu.Unlock()
	c.closeBegun = true
	if c.fastBusy {
		c.closeLate = true
	}
	alt, c.alt, c.altRC = c.alt, nil, nil
	return c.closeLate, alt
}

// shutNow ends the connection for the peer and for its waits, while the
// fast read's holder still holds the descriptor: the socket is shut down
// both ways, and the deadlines end any wait of a write.
func (c *corkConn) shutNow() {
	_ = c.rc.Control(shutdownSocket)
	_ = c.Conn.SetDeadline(time.Unix(1, 0))
}

// readRC is the RawConn to read the socket with: its own, unless another
// goroutine holds its fast read, in which case that of a second
// descriptor of the socket, made on first need. Nil once closing.
func (c *corkConn) readRC() syscall.RawConn {
	c.fastMu.Lock()
	defer c.fastMu.Unlock()
	if !c.fastHeld {
		return c.rc
	}
	if c.closeBegun {
		return nil
	}
	if c.alt == nil {
		alt, err := altConn(c.rc)
		if err != nil {
			// Reads wait for the holder to leave.
			return c.rc
		}
		rc, err := alt.(syscall.Conn).SyscallConn()
		if err != nil {
			_ = alt.Close()
			return c.rc
		}
		c.alt, c.altRC = alt, rc
	}
	return c.altRC
}

// setReadDeadline sets the read deadline of the socket's descriptors.
func (c *corkConn) setReadDeadline(t time.Time) {
	_ = c.Conn.SetReadDeadline(t)
	c.fastMu.Lock()
	alt := c.alt
	c.fastMu.Unlock()
	if alt != nil {
		_ = alt.SetReadDeadline(t)
	}
}

// dropAlt closes the second descriptor, if the fast read is free again:
// a parked connection holds none.
func (c *corkConn) dropAlt() {
	c.fastMu.Lock()
	var alt net.Conn
	if !c.fastHeld {
		alt, c.alt, c.altRC = c.alt, nil, nil
	}
	c.fastMu.Unlock()
	if alt != nil {
		_ = alt.Close()
	}
}

// altConn makes a second descriptor of rc's socket, as a net.Conn of its
// own, with its own place in the runtime's poller.
func altConn(rc syscall.RawConn) (net.Conn, error) {
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { nfd, derr = dupSocket(fd) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	f := os.NewFile(uintptr(nfd), "socket")
	defer f.Close()
	return net.FileConn(f)
}
