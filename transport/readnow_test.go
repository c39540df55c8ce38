package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// loopbackPair is a connected pair of TCP connections on loopback.
func loopbackPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// socketPreReader is the pre-reader of a socket, with its RawConn; it
// skips the test where raw reads are not made.
func socketPreReader(t *testing.T, c net.Conn) (*preReader, syscall.RawConn) {
	t.Helper()
	if !canReadNow {
		t.Skip("no read without waiting on this platform")
	}
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return newPreReader(c, rc), rc
}

// The wait for bytes reads them into a pooled buffer that the reads
// drain, in order, and allocates nothing once warm; the end of the stream
// comes after the bytes.
func TestPreReader(t *testing.T) {
	client, server := loopbackPair(t)
	pre, rc := socketPreReader(t, server)
	msg := bytes.Repeat([]byte("0123456789"), 30) // more than one read of 256
	buf := make([]byte, 256)
	got := make([]byte, 0, len(msg))
	roundTrip := func() {
		if _, err := client.Write(msg); err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for len(got) < len(msg) {
			if err := rc.Read(pre.fillFn); err != nil {
				t.Fatal(err)
			}
			n, err := pre.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:n]...)
		}
	}
	roundTrip()
	if !bytes.Equal(got, msg) {
		t.Fatalf("read %q, want %q", got, msg)
	}
	if n := testing.AllocsPerRun(100, roundTrip); n != 0 {
		t.Errorf("%v allocations per message, want 0", n)
	}
	if pre.buf != nil {
		t.Error("a drained reader holds its buffer")
	}
	client.Write([]byte("last"))
	client.Close()
	var all []byte
	for {
		if err := rc.Read(pre.fillFn); err != nil {
			t.Fatal(err)
		}
		n, err := pre.Read(buf)
		all = append(all, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(all) != "last" {
		t.Errorf("read %q before the end, want %q", all, "last")
	}
}

// smallBuffers shrinks the kernel's buffers of a loopback pair, so that a
// write of a few hundred kilobytes fills them and must wait.
func smallBuffers(t *testing.T, client, server net.Conn) {
	t.Helper()
	if err := server.(*net.TCPConn).SetWriteBuffer(32 << 10); err != nil {
		t.Fatal(err)
	}
	if err := client.(*net.TCPConn).SetReadBuffer(32 << 10); err != nil {
		t.Fatal(err)
	}
}

// A write larger than the socket takes at once waits for the poller, and
// goes on where it stopped: the reader gets every byte, in order.
func TestCorkConnWriteWaits(t *testing.T) {
	client, server := loopbackPair(t)
	smallBuffers(t, client, server)
	c := newCorkConn(server, 10*time.Second)
	if !canReadNow {
		t.Skip("no write without waiting on this platform")
	}
	if c.rc == nil {
		t.Fatal("a socket is written through the runtime's call, not the raw one")
	}
	calls := 0
	c.rc = countingRawConn{c.rc, &calls}
	msg := make([]byte, 1<<20)
	for i := range msg {
		msg[i] = byte(i * 7 / 5)
	}
	done := make(chan error, 1)
	go func() {
		got := make([]byte, len(msg))
		_, err := io.ReadFull(client, got)
		if err == nil && !bytes.Equal(got, msg) {
			err = errors.New("the bytes read are not the bytes written")
		}
		done <- err
	}()
	// The second write goes through a deadline set by the first.
	for _, half := range [][]byte{msg[:len(msg)/2], msg[len(msg)/2:]} {
		if n, err := c.Write(half); err != nil || n != len(half) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if calls <= 2 {
		t.Errorf("%d raw writes for 2 writes: none waited for the poller", calls)
	}
}

// countingRawConn counts the calls of its writes' callbacks.
type countingRawConn struct {
	syscall.RawConn
	calls *int
}

func (c countingRawConn) Write(f func(fd uintptr) bool) error {
	return c.RawConn.Write(func(fd uintptr) bool { *c.calls++; return f(fd) })
}

// A write that the peer does not read ends at its deadline, with the
// bytes it wrote and the runtime's deadline error.
func TestCorkConnWriteDeadline(t *testing.T) {
	client, server := loopbackPair(t)
	smallBuffers(t, client, server)
	c := newCorkConn(server, 50*time.Millisecond)
	n, err := c.Write(make([]byte, 4<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write to a peer that does not read: %v, want a deadline error", err)
	}
	if n <= 0 || n >= 4<<20 {
		t.Errorf("wrote %d bytes before the deadline, want some and not all", n)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%v is not a timeout net.Error", err)
	}
}

// A read of the socket keeps the errors of net.Conn's: a deadline, and a
// connection closed on this side.
func TestPreReaderErrors(t *testing.T) {
	_, server := loopbackPair(t)
	pre, _ := socketPreReader(t, server)
	buf := make([]byte, 16)
	server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := pre.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v", err)
	}
	server.SetReadDeadline(time.Time{})
	server.Close()
	if _, err := pre.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read of a closed connection: %v", err)
	}
}

// RawSocket reads and writes a socket as net.Conn does, from two
// goroutines at once, and leaves what is not a socket as it is.
func TestRawSocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if RawSocket(a) != a {
		t.Error("a pipe was wrapped")
	}
	client, server := loopbackPair(t)
	smallBuffers(t, client, server)
	rs := RawSocket(server)
	if canReadNow && rs == server {
		t.Fatal("a TCP socket was not wrapped")
	}
	// The client echoes; the server writes and reads at once.
	go io.Copy(client, client)
	msg := make([]byte, 1<<20)
	for i := range msg {
		msg[i] = byte(i * 3 / 7)
	}
	done := make(chan error, 1)
	go func() {
		_, err := rs.Write(msg)
		done <- err
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(rs, got); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("the echo differs from what was written")
	}
	rs.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := rs.Read(got); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v", err)
	}
	rs.SetReadDeadline(time.Time{})
	client.Close()
	if _, err := rs.Read(got); err != io.EOF {
		t.Fatalf("Read after the peer closed: %v, want EOF", err)
	}
	rs.Close()
	if _, err := rs.Write(msg[:1]); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
}

// rawCorkConn is a corkConn on the server end of a loopback pair; it
// skips the test where raw reads are not made.
func rawCorkConn(t *testing.T) (client, server net.Conn, c *corkConn) {
	t.Helper()
	client, server = loopbackPair(t)
	c = newCorkConn(server, time.Second)
	if c.rc == nil {
		t.Skip("no raw reads on this platform")
	}
	return client, server, c
}

// Close while a goroutine handles bytes inside the socket's fast read
// (fastread.go): it returns at once, the peer reads the end at once, and
// the descriptor closes when the holder leaves the read.
func TestCorkConnLateClose(t *testing.T) {
	client, server, c := rawCorkConn(t)
	if !c.holdFast() {
		t.Fatal("the fast read is not free")
	}
	inside := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // a failure below must not leave the holder, which Close of the socket would wait for
	left := make(chan error, 1)
	go func() {
		left <- c.rc.Read(func(uintptr) bool {
			if !c.enterFast() {
				t.Error("closing before the close")
			}
			close(inside)
			<-release // a handler that blocks
			if c.leaveFast() {
				t.Error("leaveFast missed the close")
			}
			return true
		})
		c.releaseFast()
	}()
	<-inside
	if c.holdFast() {
		t.Fatal("the fast read was taken twice")
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the holder")
	}
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("the peer read %d, %v; want the end of the stream", n, err)
	}
	if c.readRC() != nil {
		t.Fatal("a RawConn to read with after the close")
	}
	// The descriptor is still open: the holder holds it.
	if err := server.SetReadDeadline(time.Time{}); err != nil {
		t.Fatalf("closed before the holder left: %v", err)
	}
	unblock()
	if err := <-left; err != nil {
		t.Fatal(err)
	}
	if err := server.SetReadDeadline(time.Time{}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after the holder left: %v, want net.ErrClosed", err)
	}
}

// While another goroutine holds the socket's fast read, reads go through a
// second descriptor of the socket, which Close closes.
func TestCorkConnAltRead(t *testing.T) {
	client, server, c := rawCorkConn(t)
	pre := newPreReader(server, c.rc)
	pre.owner = c
	if rc := c.readRC(); rc != c.rc {
		t.Fatal("a free fast read reads through another RawConn")
	}
	c.holdFast()
	held := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	left := make(chan struct{})
	go func() {
		_ = c.rc.Read(func(uintptr) bool {
			close(held)
			<-release
			return true
		})
		c.releaseFast()
		close(left)
	}()
	<-held
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.setReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 16)
	n, err := pre.Read(b)
	if err != nil || string(b[:n]) != "hello" {
		t.Fatalf("read %q, %v while the fast read is held", b[:n], err)
	}
	c.fastMu.Lock()
	alt := c.alt
	c.fastMu.Unlock()
	if alt == nil {
		t.Fatal("no second descriptor")
	}
	// The read deadline reaches the second descriptor too.
	c.setReadDeadline(time.Unix(1, 0))
	if _, err := pre.Read(b); !os.IsTimeout(err) {
		t.Fatalf("read past the deadline: %v", err)
	}
	c.setReadDeadline(time.Time{})
	unblock()
	<-left
	if rc := c.readRC(); rc != c.rc {
		t.Fatal("the fast read is free again, and reads do not go through it")
	}
	_ = c.Close()
	if err := alt.SetReadDeadline(time.Time{}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the second descriptor after Close: %v", err)
	}
}
