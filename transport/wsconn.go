package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/sio-go/sio/core/eio"
)

// WebSocket is an accepted server-side WebSocket whose writes can be
// batched: the writer corks the connection, writes every frame queued, and
// uncorks, so that a burst of packets leaves in one write.
type WebSocket struct {
	ws *websocket.Conn
	nc *corkConn
	// deflate: the client took per-message compression, so data frames
	// go through the library, which compresses them.
	deflate bool
	br      *bufio.Reader // the library's read buffer
	guard   *frameGuard   // follows the client's frame headers, if any
	pre     *preReader    // what waitReadable read, when br is ours
	// closeMu keeps waitReadable's look at br apart from a close
	// handshake run by the writer, which reads through br too.
	closeMu sync.Mutex
	// failing: the reader closes the WebSocket with a status of its own
	// (1007, 1009); the writer then sends no close frame.
	failing atomic.Bool
	// hdr holds a frame header as the reader reads it without the
	// library (wsraw.go); the reader's only.
	hdr [14]byte
}

// closeFromWriter closes the WebSocket with a close frame with no status,
// as the reference does, from a goroutine other than the reader; unless
// the reader closes it with a status of its own.
func (w *WebSocket) closeFromWriter() {
	if w.failing.Load() {
		return
	}
	if w.ws == nil {
		w.rawClose(websocket.StatusNoStatusRcvd, false)
		return
	}
	w.closeMu.Lock()
	defer w.closeMu.Unlock()
	_ = w.ws.Close(websocket.StatusNoStatusRcvd, "")
}

// closeWith closes the WebSocket with status s, from its reader: it waits
// for the client's close frame a few seconds at most.
func (w *WebSocket) closeWith(s websocket.StatusCode) {
	if w.ws == nil {
		w.rawClose(s, true)
		return
	}
	_ = w.ws.Close(s, "")
}

// closeNow closes the connection without a close frame.
func (w *WebSocket) closeNow() {
	if w.ws == nil {
		_ = w.nc.Close()
		return
	}
	_ = w.ws.CloseNow()
}

// writeText writes a text message.
func (w *WebSocket) writeText(p []byte) error {
	if w.ws != nil {
		return w.ws.Write(context.Background(), websocket.MessageText, p)
	}
	return w.nc.writeText(p)
}

// CloseNoStatus closes the WebSocket with a close frame with no status, as
// the reference does; it waits for the peer's close frame a few seconds at
// most, reading what comes before it. Nothing else may be reading the
// WebSocket.
func (w *WebSocket) CloseNoStatus() { w.closeWith(websocket.StatusNoStatusRcvd) }

// AcceptOptions configure AcceptWebSocket.
type AcceptOptions struct {
	// Compression enables per-message deflate when the client offers it.
	Compression bool
	// WriteTimeout bounds each write to the network; default 10s.
	WriteTimeout time.Duration
	// MaxMessageBytes refuses a message over it as soon as the frame
	// header that takes it over arrives (the connection then closes with
	// status 1009); 0 checks no header, and the reader's own limit
	// applies once the bytes are read.
	MaxMessageBytes int
}

// AcceptWebSocket completes the WebSocket handshake of r. Origins are not
// checked here: that is the application's (AllowRequest, CORS), as in the
// reference server. The caller's HTTP handler may return as soon as it has
// the WebSocket: the connection keeps neither the request nor the server's
// buffers.
func AcceptWebSocket(w http.ResponseWriter, r *http.Request, o AcceptOptions) (*WebSocket, error) {
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	h := &hijacker{ResponseWriter: w, timeout: o.WriteTimeout, max: o.MaxMessageBytes}
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled}
	if o.Compression {
		opts.CompressionMode = websocket.CompressionContextTakeover
		opts.CompressionThreshold = 1024
	}
	if !o.Compression || !offersDeflate(r) {
		return acceptRaw(w, r, h)
	}
	ws, err := websocket.Accept(h, r, opts)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(-1) // readMessage enforces MaxPayload itself
	sock := &WebSocket{ws: ws, nc: h.nc, br: h.br, guard: h.guard, pre: h.pre, deflate: w.Header().Get("Sec-WebSocket-Extensions") != ""}
	return sock, nil
}

// canWait reports whether the reader can wait for the connection's next
// bytes on a shallow stack (Driver.waitIdle): an idle session's goroutine
// then holds a small stack (the runtime shrinks it), instead of the deep
// one of a read blocked inside the WebSocket library. The wait reads the
// bytes that came itself (into a pooled buffer that the library's reads
// then drain), so that waiting costs no system call of its own. False when
// bytes are buffered already, or when it cannot wait this way (the read
// itself then blocks).
func (w *WebSocket) canWait() bool {
	if w.nc.rc == nil || w.br == nil || w.pre == nil { // rc: nil where raw reads are not made
		return false
	}
	w.closeMu.Lock()
	buffered := w.br.Buffered()
	w.closeMu.Unlock()
	return buffered == 0
}

// Conn is the WebSocket library's connection when the library runs this
// WebSocket (per-message compression was negotiated); nil when sio reads
// and writes it itself (wsraw.go).
func (w *WebSocket) Conn() *websocket.Conn { return w.ws }

// hijacker hands the WebSocket library a connection that can be corked,
// with small buffers of its own, so that net/http's are released with the
// request.
type hijacker struct {
	http.ResponseWriter
	timeout time.Duration
	max     int
	nc      *corkConn
	br      *bufio.Reader
	guard   *frameGuard
	pre     *preReader
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if err := h.hijack(); err != nil {
		return nil, nil, err
	}
	// The library writes through a buffer of its own.
	return h.nc, bufio.NewReadWriter(h.br, bufio.NewWriterSize(h.nc, hijackBuf)), nil
}

// hijack takes the connection from net/http, and makes its reading side:
// all that a WebSocket read without the library needs.
func (h *hijacker) hijack() error {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return err
	}
	h.nc = newCorkConn(c, h.timeout)
	// What the client sent already, behind the handshake (net/http may
	// have read it: the 101 leaves before the hijack), is read first.
	h.pre = newPreReader(c, h.nc.rc)
	h.pre.owner = h.nc
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		h.pre.seed(b)
	}
	h.nc.pre = h.pre
	if h.max > 0 {
		// The guard sees every byte the reader reads.
		h.guard = &frameGuard{r: h.pre, max: int64(h.max)}
		h.nc.guard = h.guard
	}
	h.br = bufio.NewReaderSize(h.nc, hijackBuf)
	return nil
}

// hijackBuf is the size of the read buffer (sio's reader's or the
// library's) and of the library's write buffer (bufio's least). An idle
// connection holds them, and neither needs more:
// the bytes a read waits for are in the pooled pre-read buffer (preReader),
// a read of a payload larger than the buffer goes straight through it, and
// data frames are written by the writer through the cork, which leaves in
// one write (the library writes only control frames, and with compression
// its data frames, corked too).
const hijackBuf = 16

var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// corkConn is a net.Conn whose writes can be held back (corked) and sent
// in one write (uncorked). Every write to the network carries a deadline.
type corkConn struct {
	net.Conn
	timeout time.Duration
	guard   *frameGuard // reads go through it, when set
	pre     *preReader  // or through it, when set

	mu       sync.Mutex
	corked   bool
	buf      *[]byte
	deadline time.Time // the write deadline set on Conn

	rc syscall.RawConn // Conn's, when raw system calls can read and write it

	// A WebSocket read without the library (wsraw.go): closeSent, set
	// under mu, once sio's close frame went out (nothing is written
	// after it); closeTimer ends the connection if the client's close
	// frame does not come back.
	closeSent  atomic.Bool
	closeTimer atomic.Pointer[time.Timer]
	// The connection's place in the parking lot (park.go), under its lock.
	parkID    uint64 // 0 when not parked
	parkAdded bool   // registered in the lot once

	// The fast read (fastread.go), under fastMu.
	fastMu     sync.Mutex
	fastHeld   bool            // a goroutine is in the socket's fast read
	fastBusy   bool            // ... handling what it read, not waiting
	closeBegun bool            // Close was called
	closeLate  bool            // ... while the holder was busy: it closes Conn
	alt        net.Conn        // a second descriptor, read while another holds the fast read
	altRC      syscall.RawConn // alt's
}

// newCorkConn makes c a corkConn whose writes wait at most timeout.
func newCorkConn(c net.Conn, timeout time.Duration) *corkConn {
	return &corkConn{Conn: c, timeout: timeout, rc: socketRawConn(c)}
}

// Close closes the connection, and runs its reader if it was parked: the
// reader then reads the close. While the reader handles messages in its
// fast read (fastread.go), the socket is shut down now and its descriptor
// closed as the reader leaves.
func (c *corkConn) Close() error {
	if t := c.closeTimer.Load(); t != nil {
		t.Stop()
	}
	d := lot.unpark(c)
	late, alt := c.beginClose()
	if alt != nil {
		_ = alt.Close()
	}
	var err error
	if late {
		c.shutNow()
	} else {
		err = c.Conn.Close()
	}
	if d != nil {
		d.unparked()
	}
	return err
}

func (c *corkConn) Read(p []byte) (int, error) {
	if c.guard != nil {
		return c.guard.Read(p)
	}
	if c.pre != nil {
		return c.pre.Read(p)
	}
	return c.Conn.Read(p)
}

var preBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// preReader is a connection whose first bytes may have been read already,
// by waitReadable: its reads drain those first. An idle connection holds
// no buffer.
type preReader struct {
	net.Conn
	mu  sync.Mutex
	buf *[]byte // pooled; nil when drained
	off int
	err error // what the read met, after buf

	fillFn func(fd uintptr) bool // fill, made once: a method value per wait would allocate

	rc    syscall.RawConn // the socket's, when raw system calls can read it
	owner *corkConn       // whose readRC to read with, when set
}

func newPreReader(c net.Conn, rc syscall.RawConn) *preReader {
	r := &preReader{Conn: c}
	r.fillFn = r.fill
	r.rc = rc
	return r
}

// readRC is the RawConn to read with (corkConn.readRC); nil once closing.
func (r *preReader) readRC() syscall.RawConn {
	if r.owner != nil {
		return r.owner.readRC()
	}
	return r.rc
}

// empty reports whether r holds neither bytes nor an error.
func (r *preReader) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf == nil && r.err == nil
}

// seed makes b the first bytes read.
func (r *preReader) seed(b []byte) {
	bp := preBufs.Get().(*[]byte)
	*bp = append((*bp)[:0], b...)
	r.buf = bp
}

// Read drains what fill read first. It holds mu while it reads the
// connection, so that fill, which only tries mu, never reads bytes that
// would overtake those of a read in progress (the close handshake reads
// from another goroutine than the reader).
func (r *preReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buf != nil {
		n := copy(p, (*r.buf)[r.off:])
		if r.off += n; r.off == len(*r.buf) {
			*r.buf = (*r.buf)[:0]
			preBufs.Put(r.buf)
			r.buf, r.off = nil, 0
		}
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.rc == nil {
		return r.Conn.Read(p)
	}
	rc := r.readRC()
	if rc == nil {
		return 0, net.ErrClosed
	}
	return rawRead(rc, p)
}

// fill is the callback of a raw read: it reads what the socket holds, and
// reports false (wait for the poller) when it holds nothing yet. While a
// read is in progress it reads nothing, and reports true: that read gets
// the bytes.
func (r *preReader) fill(fd uintptr) bool {
	got, _ := r.fillShort(fd)
	return got != fillWait
}

// fillShort is fill, saying what it read, and whether the read emptied
// the socket (it read less than it asked for).
func (r *preReader) fillShort(fd uintptr) (got int, short bool) {
	if !r.mu.TryLock() {
		return fillOther, false
	}
	defer r.mu.Unlock()
	if r.buf != nil {
		return fillData, false // read a while ago: the socket may hold more
	}
	if r.err != nil {
		return fillOther, false
	}
	b := preBufs.Get().(*[]byte)
	n, err, wait := readNow(fd, (*b)[:cap(*b)])
	switch {
	case wait:
		preBufs.Put(b)
		return fillWait, false
	case err != nil:
		r.err = &net.OpError{Op: "read", Net: "tcp", Err: err}
	case n == 0:
		r.err = io.EOF
	}
	if n == 0 {
		preBufs.Put(b)
		return fillOther, false
	}
	*b = (*b)[:n]
	r.buf = b
	return fillData, n < cap(*b)
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		*c.buf = append(*c.buf, p...)
		return len(p), nil
	}
	return c.writeLocked(p)
}

// writeLocked writes p with a deadline between half the timeout and the
// timeout away: the deadline is moved only once half of it has passed,
// which spares a timer update on most writes.
func (c *corkConn) writeLocked(p []byte) (int, error) {
	now := time.Now()
	if c.deadline.Sub(now) < c.timeout/2 {
		c.deadline = now.Add(c.timeout)
		if err := c.Conn.SetWriteDeadline(c.deadline); err != nil {
			return 0, err
		}
	}
	if c.rc == nil {
		return c.Conn.Write(p)
	}
	return rawWrite(c.rc, p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	if c.buf == nil {
		c.buf = corkBufs.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// uncork sends what the cork held, in one write.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	b := c.buf
	c.buf = nil
	if b == nil {
		return nil
	}
	var err error
	if len(*b) > 0 {
		_, err = c.writeLocked(*b)
	}
	if cap(*b) <= 64<<10 {
		*b = (*b)[:0]
		corkBufs.Put(b)
	}
	return err
}

// closing reports whether a close frame went out (wsraw.go). It takes no
// lock: the reader asks after each message, while the writer may hold mu
// through a write.
func (c *corkConn) closing() bool { return c.closeSent.Load() }

// closeAfter closes the connection in d, unless it is closed before.
func (c *corkConn) closeAfter(d time.Duration) {
	t := time.AfterFunc(d, func() { _ = c.Close() })
	if !c.closeTimer.CompareAndSwap(nil, t) {
		t.Stop()
	}
}

// writeControl writes a control frame with payload p (125 bytes at most),
// whole; close marks it as the close frame. False when a close frame went
// out already: nothing was written.
func (c *corkConn) writeControl(op byte, p []byte, close bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent.Load() {
		return false
	}
	if close {
		c.closeSent.Store(true)
	}
	var f [2 + 125]byte
	frame := append(appendFrameHeader(f[:0], op, len(p)), p...)
	if c.corked {
		*c.buf = append(*c.buf, frame...)
	} else {
		_, _ = c.writeLocked(frame)
	}
	return true
}

// writeFrames writes pkts as unfragmented, unmasked WebSocket data frames
// (RFC 6455, section 5.2) in one network write. The library writes the
// control frames (pong, close) through the same connection, whole, under
// the same lock, so frames never interleave.
func (c *corkConn) writeFrames(pkts []eio.Packet) error {
	bp := corkBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	for _, p := range pkts {
		buf = appendDataFrame(buf, p)
	}
	err := c.writeData(buf)
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
		corkBufs.Put(bp)
	}
	return err
}

// writeText writes p as one text frame.
func (c *corkConn) writeText(p []byte) error {
	return c.writeData(append(appendFrameHeader(nil, opText, len(p)), p...))
}

// writeData writes data frames, whole; none after a close frame.
func (c *corkConn) writeData(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent.Load() {
		return net.ErrClosed
	}
	if c.corked {
		*c.buf = append(*c.buf, b...)
		return nil
	}
	_, err := c.writeLocked(b)
	return err
}

// appendDataFrame appends the frame of one Engine.IO packet: a binary
// message as a binary frame of its bytes, anything else as a text frame of
// its type digit and data.
func appendDataFrame(dst []byte, p eio.Packet) []byte {
	n := len(p.Data)
	op := byte(opText)
	if p.Type == eio.Message && p.Binary {
		op = opBinary
	} else {
		n++ // the type digit
	}
	dst = appendFrameHeader(dst, op, n)
	dst, _ = eio.AppendFrame(dst, p)
	return dst
}

// appendFrameHeader appends the header of an unfragmented, unmasked frame
// with opcode op and an n-byte payload.
func appendFrameHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op) // FIN
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n <= 0xffff:
		return append(dst, 126, byte(n>>8), byte(n))
	}
	dst = append(dst, 127)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}
