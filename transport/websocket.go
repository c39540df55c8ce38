package transport

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core/eio"
)

// ErrMessageTooBig: a WebSocket message over MaxPayload. The connection
// closes with status 1009 and the session with "transport error".
var ErrMessageTooBig = errors.New("message too big")

var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// readMessage reads one WebSocket message into a slice of its own, failing
// with ErrMessageTooBig past max bytes.
func (w *WebSocket) readMessage(max int) ([]byte, bool, error) {
	bp := readBufs.Get().(*[]byte)
	if w.ws != nil {
		// A context that is never done: closing the connection ends a
		// read, and a cancellable one costs a watcher per read.
		buf, binary, err := readLibMessage(context.Background(), w.ws, (*bp)[:0], max)
		return takeMessage(bp, buf, binary, err)
	}
	buf, op, err := w.rawRead((*bp)[:0], max)
	return takeMessage(bp, buf, op == opBinary, err)
}

// readMessage reads one message through the WebSocket library (the client
// side), as WebSocket.readMessage does.
func readMessage(ctx context.Context, ws *websocket.Conn, max int) ([]byte, bool, error) {
	bp := readBufs.Get().(*[]byte)
	buf, binary, err := readLibMessage(ctx, ws, (*bp)[:0], max)
	return takeMessage(bp, buf, binary, err)
}

// takeMessage checks a message read into buf, the storage of bp, and gives
// it a slice of its own; bp goes back to its pool.
func takeMessage(bp *[]byte, buf []byte, binary bool, err error) ([]byte, bool, error) {
	defer readBufs.Put(bp)
	if err == nil && !binary && !utf8.Valid(buf) {
		err = ErrInvalidUTF8
	}
	if err != nil {
		*bp = buf[:0]
		return nil, false, err
	}
	// Messages are kept by the session (handlers may hold their
	// arguments): give each its own exact-sized copy.
	data := append(make([]byte, 0, len(buf)), buf...)
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
	}
	return data, binary, nil
}

// readLibMessage reads one message through the WebSocket library, into buf.
func readLibMessage(ctx context.Context, ws *websocket.Conn, buf []byte, max int) ([]byte, bool, error) {
	typ, r, err := ws.Reader(ctx)
	if err != nil {
		return buf, false, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > max {
			return buf, false, ErrMessageTooBig
		}
		if rerr == io.EOF {
			return buf, typ == websocket.MessageBinary, nil
		}
		if rerr != nil {
			return buf, false, rerr
		}
	}
}

// ServeWebSocket runs a session whose active transport is ws: it reads
// frames into the session on the calling goroutine, and writes the
// session's output from a goroutine that runs only while there is output.
// It returns when the session has ended and its output is flushed.
func (d *Driver) ServeWebSocket(ws *WebSocket) {
	d.mu.Lock()
	d.ws, d.wsConn = true, ws
	d.mu.Unlock()
	w := d.startWriting(ws)
	d.readLoop(ws, w, func() {
		w.start()
		<-w.done
		d.finish()
	})
}

// readLoop reads sock into the session until it ends, then runs end, on
// whichever goroutine is the reader by then: a turn that the reader ran
// and that blocked hands reading to a new goroutine (turns.go).
func (d *Driver) readLoop(sock *WebSocket, w *wsWriter, end func()) {
	d.setResume(sock, w, end)
	if canPark && sock.nc.rc != nil {
		sweep.add(d)
	}
	d.readOn(sock, w, end, false)
}

// readOn is readLoop's loop; woken: the connection was parked and is
// readable now (park.go).
func (d *Driver) readOn(sock *WebSocket, w *wsWriter, end func(), woken bool) {
	// This loop is where an idle session's goroutine waits, unless it
	// parks: keep its frame small, so that the runtime can shrink the
	// goroutine's stack.
loop:
	for {
		// The lot runs a new reader once the connection is readable.
		if !woken && d.reads.Load() < parkEarly && d.parkReader(sock) {
			return
		}
		woken = false
		switch d.readFast(sock, w) {
		case fastHandedOff:
			return // the new reader ends the session
		case fastPark:
			continue
		case fastInterrupted:
			if d.parkReader(sock) {
				return
			}
			continue
		case fastRoom:
			if !d.waitRoom(w.done) {
				break loop
			}
			continue
		case fastFailed:
			d.handIn(sock, nil, false, d.fast.err)
			break loop
		}
		if d.waitIdle(sock) && d.parkReader(sock) {
			return
		}
		ok, ready := d.readOne(sock)
		if ok && !d.finishInput(ready, w) {
			return // handed off: the new reader ends the session
		}
		if !ok || !d.waitRoom(w.done) {
			break
		}
	}
	sweep.remove(d)
	end()
}

// readPauser is the optional interface of a session whose handlers may
// fall behind (core.Conn): ReadPaused is nil while reading may go on, or
// a channel closed once it may (room again, or the session closed).
type readPauser interface {
	ReadPaused() <-chan struct{}
}

// waitRoom waits, after an input, until the session may take the next
// one: the connection is not read meanwhile, so that the peer is held
// back by TCP, while the timer and the writer go on. False when end (or
// the driver's end) came first.
func (d *Driver) waitRoom(end <-chan struct{}) bool {
	p, ok := d.conn.(readPauser)
	if !ok {
		return true
	}
	for {
		ch := p.ReadPaused()
		if ch == nil {
			return true
		}
		select {
		case <-ch:
		case <-end:
			return false
		case <-d.ended:
			return false
		}
	}
}

// readOne reads one message into the session; false once the WebSocket has
// ended. ready are the turns the message made ready, for the reader to run;
// when ok, the reader is inline and must call finishInput.
//
//go:noinline
func (d *Driver) readOne(sock *WebSocket) (ok bool, ready []func()) {
	data, binary, err := sock.readMessage(d.opts.MaxPayload)
	return d.handIn(sock, data, binary, err)
}

// handIn hands a message read into the session, or ends the session on
// the read's error err; readOne's results.
func (d *Driver) handIn(sock *WebSocket, data []byte, binary bool, err error) (ok bool, ready []func()) {
	c := d.conn
	if err != nil {
		if !c.Closed() {
			if status, bad := readFailure(sock, err); bad != nil {
				// The close frame carries the status: the writer, woken
				// by the close, must not send its own first.
				sock.failing.Store(true)
				c.HandleTransportClose(d.opts.Clock(), bad)
				sock.closeWith(status)
			} else {
				c.HandleTransportClose(d.opts.Clock(), nil)
			}
		}
		d.Wake()
		return false, nil
	}
	d.reads.Add(1)
	d.beginInput()
	_ = c.HandleFrame(d.opts.Clock(), data, binary)
	ready = d.endInput()
	if c.Closed() {
		d.Wake()
	}
	return true, ready
}

// readFailure tells a read that failed because of what the peer sent (a
// message over the limit, invalid UTF-8 in a text message) from the end of
// the connection: for the former, the close status and the session's cause.
func readFailure(sock *WebSocket, err error) (websocket.StatusCode, error) {
	switch {
	case sock.guard.tooBig() || errors.Is(err, ErrMessageTooBig):
		return websocket.StatusMessageTooBig, ErrMessageTooBig
	case errors.Is(err, ErrInvalidUTF8):
		return websocket.StatusInvalidFramePayloadData, ErrInvalidUTF8
	case errors.Is(err, ErrProtocol):
		return websocket.StatusProtocolError, ErrProtocol
	}
	return 0, nil
}

// wsWriter writes a session's output to its WebSocket, all that is queued
// in one network write per batch. It has no goroutine while there is
// nothing to write: the reader writes what its message's turn sent itself
// (flush, turns.go), and any other wake runs the writer on a worker
// goroutine (writerpool.go) until the output is written.
type wsWriter struct {
	d    *Driver
	ws   *WebSocket
	done chan struct{} // closed once the WebSocket is closed

	mu       sync.Mutex
	running  bool
	finished bool
}

func (d *Driver) startWriting(ws *WebSocket) *wsWriter {
	w := &wsWriter{d: d, ws: ws, done: make(chan struct{})}
	addWriter()
	d.writer.Store(w)
	w.start()
	return w
}

// start runs the writer unless it runs already or has finished.
func (w *wsWriter) start() {
	if w.claim() {
		runWriter(w)
	}
}

// claim marks the writer running; false when it runs already or has
// finished.
func (w *wsWriter) claim() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running || w.finished {
		return false
	}
	w.running = true
	return true
}

// maxYields bounds the yields of a writer gathering a batch.
const maxYields = 4

type writeBufs struct {
	pkts  []eio.Packet
	frame []byte
}

var writeBufPool = sync.Pool{New: func() any { return new(writeBufs) }}

func (w *wsWriter) run() { w.loop(true) }

// flush writes the output queued, on the calling goroutine (the reader,
// after a message): unless the writer runs already. It leaves the close of
// a closed session to a goroutine of the writer's own.
func (w *wsWriter) flush() {
	if w.claim() {
		w.loop(false)
	}
}

// loop writes the output queued until there is none, then releases the
// writer. async is the writer's own goroutine, which gathers batches and
// closes the WebSocket once a closed session is flushed.
func (w *wsWriter) loop(async bool) {
	c := w.d.conn
	b := writeBufPool.Get().(*writeBufs)
	defer func() {
		clear(b.pkts)
		b.pkts, b.frame = b.pkts[:0], b.frame[:0]
		if cap(b.frame) > 64<<10 {
			b.frame = nil
		}
		writeBufPool.Put(b)
	}()
	for {
		b.pkts = c.TakeOutput(b.pkts[:0])
		if len(b.pkts) > 0 {
			// Let the goroutines that are queueing packets (broadcasts
			// fanning out) run before writing, while they keep adding:
			// what they add goes out in the same network write, which
			// costs far more than a yield. The reader writing the
			// answer to a message has nobody to wait for.
			for i := 0; async && i < maxYields; i++ {
				n := len(b.pkts)
				runtime.Gosched()
				if b.pkts = c.TakeOutput(b.pkts); len(b.pkts) == n {
					break
				}
			}
			if err := w.write(b); err != nil {
				c.HandleTransportClose(w.d.opts.Clock(), err)
				w.ws.closeNow()
				w.finish()
				return
			}
			continue
		}
		if c.Closed() {
			if !async {
				// The close handshake waits for the peer: not on the
				// reader.
				w.release()
				w.start()
				return
			}
			// Flushed: a close frame with no status, as the reference sends.
			w.ws.closeFromWriter()
			w.finish()
			return
		}
		w.release()
		// A wake between the last take and now found the writer running
		// and started nothing: look again.
		if (!c.HasOutput() && !c.Closed()) || !w.claim() {
			return
		}
	}
}

func (w *wsWriter) release() {
	w.mu.Lock()
	w.running = false
	w.mu.Unlock()
}

// write sends a batch of packets as WebSocket messages in one network
// write.
func (w *wsWriter) write(b *writeBufs) error {
	if !w.ws.deflate {
		err := w.ws.nc.writeFrames(b.pkts)
		clear(b.pkts)
		return err
	}
	w.ws.nc.cork()
	for _, p := range b.pkts {
		var binary bool
		b.frame, binary = eio.AppendFrame(b.frame[:0], p)
		typ := websocket.MessageText
		if binary {
			typ = websocket.MessageBinary
		}
		if err := w.ws.ws.Write(context.Background(), typ, b.frame); err != nil {
			_ = w.ws.nc.uncork()
			return err
		}
	}
	clear(b.pkts)
	return w.ws.nc.uncork()
}

func (w *wsWriter) finish() {
	w.mu.Lock()
	w.running = false
	first := !w.finished
	if first {
		w.finished = true
		close(w.done)
	}
	w.mu.Unlock()
	if first {
		writerFinished()
	}
}

// ServeProbe runs the WebSocket of an upgrade: the probe exchange, then, once
// the client sends the upgrade packet, the session itself. When the probe
// fails the WebSocket is closed and the session goes on over polling.
func (d *Driver) ServeProbe(sock *WebSocket) {
	c := d.conn
	if err := c.StartProbe(d.opts.Clock()); err != nil {
		sock.closeWith(websocket.StatusNoStatusRcvd)
		return
	}
	// The upgrade timeout may come before the next heartbeat: arm the
	// timer for it.
	d.kick()
	d.mu.Lock()
	d.ws, d.wsConn = true, sock
	d.mu.Unlock()
	// The upgrade timeout lives in the session, whose timer wakes the
	// driver: a probe abandoned meanwhile closes the WebSocket, which ends
	// the read below.
	done := make(chan struct{})
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			select {
			case <-done:
				return
			case <-d.wsCh:
				if !c.Upgrading() && c.Transport() != eio.WebSocket {
					// Abandoned: a close frame with no status, as the
					// reference sends; it also ends the read below.
					sock.closeFromWriter()
					return
				}
			}
		}
	}()
	var out []eio.Packet
	var frame []byte
	for c.Upgrading() {
		data, binary, err := sock.readMessage(d.opts.MaxPayload)
		if err != nil {
			status, bad := readFailure(sock, err)
			if bad != nil {
				sock.failing.Store(true)
			}
			c.HandleProbeClose(d.opts.Clock())
			if bad != nil {
				sock.closeWith(status)
			}
			break
		}
		perr := c.HandleProbeFrame(d.opts.Clock(), data, binary)
		out = c.TakeProbeOutput(out[:0])
		for _, p := range out {
			frame, _ = eio.AppendFrame(frame[:0], p)
			if err := sock.writeText(frame); err != nil {
				c.HandleProbeClose(d.opts.Clock())
				break
			}
		}
		d.Wake() // a pending poll may now get its noop
		if perr != nil {
			break
		}
	}
	close(done)
	if c.Transport() != eio.WebSocket {
		d.mu.Lock()
		d.ws, d.wsConn = false, nil
		d.mu.Unlock()
		sock.closeWith(websocket.StatusNoStatusRcvd)
		// Polling carries the session again: if it closed meanwhile, the
		// driver's timer must now finish it.
		d.Wake()
		return
	}
	// Upgraded: this WebSocket now carries the session. A poll still
	// pending is released (the wake-ups go to the writer from now on).
	select {
	case d.pollCh <- struct{}{}:
	default:
	}
	w := d.startWriting(sock)
	d.Wake()
	d.readLoop(sock, w, func() {
		w.start()
		<-w.done
		d.wg.Wait()
		d.finish()
	})
}
