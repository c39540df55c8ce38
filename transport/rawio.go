package transport

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// rawOp is the state of a raw read or write of a socket (readnow_*.go)
// for its callback: the runtime's poller waits, fn reads or writes. An op
// is taken from its pool for one operation, so that a connection holds
// none between two.
type rawOp struct {
	fn  func(fd uintptr) bool // read or write, bound once: a method value per operation would allocate
	p   []byte
	n   int
	err error
}

var (
	rawReads  = sync.Pool{New: func() any { op := new(rawOp); op.fn = op.read; return op }}
	rawWrites = sync.Pool{New: func() any { op := new(rawOp); op.fn = op.write; return op }}
)

// rawDo reads into p, or writes p, with an op of its pool: what the
// system calls did (n, and the error of the last), and what the runtime's
// poller met (a deadline, a close).
func rawDo(rc syscall.RawConn, p []byte, write bool) (n int, callErr, pollErr error) {
	pool := &rawReads
	if write {
		pool = &rawWrites
	}
	op := pool.Get().(*rawOp)
	op.p = p
	if write {
		pollErr = rc.Write(op.fn)
	} else {
		pollErr = rc.Read(op.fn)
	}
	n, callErr = op.n, op.err
	op.p, op.n, op.err = nil, 0, nil
	pool.Put(op)
	return n, callErr, pollErr
}

// rawRead reads into p as net.Conn's Read does, with its errors: a
// deadline, a closed connection, and io.EOF at the end of the stream.
func rawRead(rc syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, rerr, err := rawDo(rc, p, false)
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

func (op *rawOp) read(fd uintptr) bool {
	n, err, wait := readNow(fd, op.p)
	op.n, op.err = n, err
	return !wait
}

// rawWrite writes all of p, waiting for the poller while the socket takes
// no more, as net.Conn's Write does, with its errors.
func rawWrite(rc syscall.RawConn, p []byte) (int, error) {
	n, werr, err := rawDo(rc, p, true)
	switch {
	case werr != nil:
		return n, &net.OpError{Op: "write", Net: "tcp", Err: werr}
	case err != nil:
		return n, err
	}
	return n, nil
}

func (op *rawOp) write(fd uintptr) bool {
	n, err, wait := writeNow(fd, op.p[op.n:])
	op.n += n
	op.err = err
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
	return &rawSocketConn{Conn: c, rc: rc}
}

type rawSocketConn struct {
	net.Conn
	rc syscall.RawConn
}

func (s *rawSocketConn) Read(p []byte) (int, error) { return rawRead(s.rc, p) }

func (s *rawSocketConn) Write(p []byte) (int, error) { return rawWrite(s.rc, p) }
