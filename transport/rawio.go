package transport

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// rawReader reads a socket with raw system calls (readnow_*.go): the
// runtime's poller waits for bytes, fn reads them. Its fields are the
// callback's, so a read holds the caller's lock.
type rawReader struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // call, made once: a method value per read would allocate
	p   []byte
	n   int
	err error
}

func (r *rawReader) init(rc syscall.RawConn) {
	r.rc = rc
	r.fn = r.call
}

// read reads into p as net.Conn's Read does, with its errors: a deadline,
// a closed connection, and io.EOF at the end of the stream.
func (r *rawReader) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p = p
	err := r.rc.Read(r.fn)
	n, rerr := r.n, r.err
	r.p, r.n, r.err = nil, 0, nil
	switch {
	case rerr != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: rerr}
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (r *rawReader) call(fd uintptr) bool {
	n, err, wait := readNow(fd, r.p)
	r.n, r.err = n, err
	return !wait
}

// rawWriter writes a socket with raw system calls, the way rawReader
// reads it: a write holds the caller's lock.
type rawWriter struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool
	p   []byte
	n   int
	err error
}

func (w *rawWriter) init(rc syscall.RawConn) {
	w.rc = rc
	w.fn = w.call
}

// write writes all of p, waiting for the poller while the socket takes
// no more, as net.Conn's Write does, with its errors.
func (w *rawWriter) write(p []byte) (int, error) {
	w.p, w.n = p, 0
	err := w.rc.Write(w.fn)
	n, werr := w.n, w.err
	w.p, w.n, w.err = nil, 0, nil
	switch {
	case werr != nil:
		return n, &net.OpError{Op: "write", Net: "tcp", Err: werr}
	case err != nil:
		return n, err
	}
	return n, nil
}

func (w *rawWriter) call(fd uintptr) bool {
	n, err, wait := writeNow(fd, w.p[w.n:])
	w.n += n
	w.err = err
	return !wait
}

// socketRawConn is c's RawConn when c is a socket that raw system calls
// can read and write on this platform; nil otherwise (TLS, a pipe).
func socketRawConn(c net.Conn) syscall.RawConn {
	if !canReadNow {
		return nil
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// RawSocket returns c, a connection its caller dialed or accepted, with
// its reads and writes made as raw system calls, as sio makes those of
// its WebSocket connections: a connection that idles between messages
// then spares the runtime's monitor thread a wake-up per message (see
// the README, "Raw system calls"). The cluster bus uses it for its Redis
// connections. Deadlines, Close and the addresses are c's. c comes back
// as it is when it is not a socket (TLS: wrap the socket under it
// instead) or the platform has no such calls.
func RawSocket(c net.Conn) net.Conn {
	rc := socketRawConn(c)
	if rc == nil {
		return c
	}
	s := &rawSocketConn{Conn: c}
	s.r.init(rc)
	s.w.init(rc)
	return s
}

type rawSocketConn struct {
	net.Conn
	rmu sync.Mutex
	r   rawReader
	wmu sync.Mutex
	w   rawWriter
}

func (s *rawSocketConn) Read(p []byte) (int, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.r.read(p)
}

func (s *rawSocketConn) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.w.write(p)
}
