package transport

import (
	"bytes"
	"io"
	"net"
	"syscall"
	"testing"
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

// The wait for bytes reads them into a pooled buffer that the reads
// drain, in order, and allocates nothing once warm; the end of the stream
// comes after the bytes.
func TestPreReader(t *testing.T) {
	if !canReadNow {
		t.Skip("no read without waiting on this platform")
	}
	client, server := loopbackPair(t)
	pre := newPreReader(server)
	rc, err := server.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
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
