package transport

import (
	"bufio"
	"encoding/binary"
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
	br      *bufio.Reader // the library's read buffer, when it is ours
	guard   *frameGuard   // follows the client's frame headers, if any
	rc      syscall.RawConn
	// closeMu keeps waitReadable's look at br apart from a close
	// handshake run by the writer, which reads through br too.
	closeMu sync.Mutex
	// failing: the reader closes the WebSocket with a status of its own
	// (1007, 1009); the writer then sends no close frame.
	failing atomic.Bool
}

// closeFromWriter closes the WebSocket with a close frame with no status,
// as the reference does, from a goroutine other than the reader; unless
// the reader closes it with a status of its own.
func (w *WebSocket) closeFromWriter() {
	if w.failing.Load() {
		return
	}
	w.closeMu.Lock()
	defer w.closeMu.Unlock()
	_ = w.ws.Close(websocket.StatusNoStatusRcvd, "")
}

// CloseNoStatus closes the WebSocket with a close frame with no status, as
// the reference does; it waits for the peer's close frame a few seconds at
// most.
func (w *WebSocket) CloseNoStatus() { w.closeFromWriter() }

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
	ws, err := websocket.Accept(h, r, opts)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(-1) // readMessage enforces MaxPayload itself
	sock := &WebSocket{ws: ws, nc: h.nc, br: h.br, guard: h.guard, deflate: w.Header().Get("Sec-WebSocket-Extensions") != ""}
	if sc, ok := h.nc.Conn.(syscall.Conn); ok {
		sock.rc, _ = sc.SyscallConn()
	}
	return sock, nil
}

// waitReadable blocks until the connection has bytes to read, on a shallow
// stack: an idle session's goroutine then holds a small stack (the runtime
// shrinks it), instead of the deep one of a read blocked inside the
// WebSocket library. It returns at once when bytes are buffered already,
// or when it cannot wait this way (the read itself then blocks).
func (w *WebSocket) waitReadable() {
	if w.rc == nil || w.br == nil {
		return
	}
	w.closeMu.Lock()
	buffered := w.br.Buffered()
	w.closeMu.Unlock()
	if buffered > 0 {
		return
	}
	// The readiness the poller reports is an edge: ask the socket itself,
	// without consuming, before and after each wait.
	_ = w.rc.Read(peekReadable)
}

// Conn is the underlying WebSocket.
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
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return c, brw, err
	}
	h.nc = &corkConn{Conn: c, timeout: h.timeout}
	r := brw.Reader
	if h.max > 0 {
		// The guard sees every byte the library reads: the library reads
		// the bytes net/http had buffered already, then the connection.
		h.guard = &frameGuard{r: c, max: int64(h.max)}
		if n := r.Buffered(); n > 0 {
			b, _ := r.Peek(n)
			if h.guard.scan(b) {
				h.guard.failed.Store(true)
			}
		}
		h.nc.guard = h.guard
	}
	if r.Buffered() == 0 {
		r = bufio.NewReaderSize(h.nc, 256)
		h.br = r
	}
	return h.nc, bufio.NewReadWriter(r, bufio.NewWriterSize(h.nc, 256)), nil
}

var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// corkConn is a net.Conn whose writes can be held back (corked) and sent
// in one write (uncorked). Every write to the network carries a deadline.
type corkConn struct {
	net.Conn
	timeout time.Duration
	guard   *frameGuard // reads go through it, when set

	mu       sync.Mutex
	corked   bool
	buf      *[]byte
	deadline time.Time // the write deadline set on Conn
}

func (c *corkConn) Read(p []byte) (int, error) {
	if c.guard != nil {
		return c.guard.Read(p)
	}
	return c.Conn.Read(p)
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
	return c.Conn.Write(p)
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
	c.mu.Lock()
	var err error
	if c.corked {
		*c.buf = append(*c.buf, buf...)
	} else {
		_, err = c.writeLocked(buf)
	}
	c.mu.Unlock()
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
		corkBufs.Put(bp)
	}
	return err
}

// appendDataFrame appends the frame of one Engine.IO packet: a binary
// message as a binary frame of its bytes, anything else as a text frame of
// its type digit and data.
func appendDataFrame(dst []byte, p eio.Packet) []byte {
	n := len(p.Data)
	op := byte(0x1) // text
	if p.Type == eio.Message && p.Binary {
		op = 0x2 // binary
	} else {
		n++ // the type digit
	}
	dst = append(dst, 0x80|op) // FIN
	switch {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst, _ = eio.AppendFrame(dst, p)
	return dst
}
