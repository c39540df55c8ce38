//go:build !js

package transport

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// maskedFrame is a client's frame of payload, masked with clientFrame's
// key.
func maskedFrame(fin bool, op byte, payload []byte) []byte {
	m := make([]byte, len(payload))
	for i, c := range payload {
		m[i] = c ^ byte(i%4+1) // clientFrame's key is 1, 2, 3, 4
	}
	return clientFrame(fin, op, uint64(len(m)), m)
}

// TestUnmask: the word-at-a-time unmask agrees with the byte-at-a-time
// definition at every length around the word size.
func TestUnmask(t *testing.T) {
	key := uint32(0x9a3c51e7)
	for n := range 70 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + n)
		}
		want := make([]byte, n)
		for i := range b {
			want[i] = b[i] ^ byte(key>>(8*(i%4)))
		}
		unmask(b, key)
		if !bytes.Equal(b, want) {
			t.Fatalf("length %d: %x, want %x", n, b, want)
		}
	}
}

// rawSocket is a WebSocket whose client bytes are in.
func rawSocket(in io.Reader) *WebSocket {
	return &WebSocket{br: bufio.NewReaderSize(in, hijackBuf), nc: &corkConn{}}
}

// TestRawRead: messages in one frame or several, with every length
// encoding, come out whole and unmasked; control frames between the
// fragments of a message are taken (pongs are ignored) without breaking
// it.
func TestRawRead(t *testing.T) {
	var in bytes.Buffer
	big := bytes.Repeat([]byte("0123456789"), 7000) // 64-bit length
	mid := bytes.Repeat([]byte("ab"), 100)          // 16-bit length
	in.Write(maskedFrame(true, opText, []byte("42[\"x\"]")))
	in.Write(maskedFrame(false, opBinary, mid[:50]))
	in.Write(maskedFrame(true, opPong, []byte("p")))
	in.Write(maskedFrame(false, opContinuation, mid[50:]))
	in.Write(maskedFrame(true, opContinuation, nil))
	in.Write(maskedFrame(true, opText, big))
	w := rawSocket(&in)
	for i, want := range []struct {
		op   byte
		data []byte
	}{{opText, []byte("42[\"x\"]")}, {opBinary, mid}, {opText, big}} {
		got, op, err := w.rawRead(nil, 1<<20)
		if err != nil || op != want.op || !bytes.Equal(got, want.data) {
			t.Fatalf("message %d: op %d, %d bytes, %v; want op %d, %d bytes", i, op, len(got), err, want.op, len(want.data))
		}
	}
	if _, _, err := w.rawRead(nil, 1<<20); err != io.EOF {
		t.Fatalf("at the end: %v, want EOF", err)
	}
	// The limit counts the whole message, across its frames.
	in.Reset()
	in.Write(maskedFrame(false, opText, mid[:60]))
	in.Write(maskedFrame(true, opContinuation, mid[60:]))
	if _, _, err := rawSocket(&in).rawRead(nil, 100); err != ErrMessageTooBig {
		t.Fatalf("over the limit: %v, want ErrMessageTooBig", err)
	}
	// A header that announces a megabyte, then ten bytes: the buffer grew
	// by what came, not by what was announced.
	in.Reset()
	in.Write(clientFrame(true, opBinary, 1<<20, make([]byte, 10)))
	buf, _, err := rawSocket(&in).rawRead(nil, 2<<20)
	if err != io.ErrUnexpectedEOF || cap(buf) > 2*rawChunk {
		t.Fatalf("a megabyte announced, ten bytes sent: %v, a buffer of %d bytes", err, cap(buf))
	}
}

// TestRawReadAllocs: reading a message into a buffer that fits allocates
// nothing.
func TestRawReadAllocs(t *testing.T) {
	frame := maskedFrame(true, opText, []byte("42[\"echo\",1,\"two\"]"))
	r := bytes.NewReader(nil)
	w := rawSocket(r)
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(200, func() {
		r.Reset(frame)
		if _, _, err := w.rawRead(buf[:0], 1<<20); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per message", allocs)
	}
}

func BenchmarkRawRead(b *testing.B) {
	for _, n := range []int{32, 1024} {
		frame := maskedFrame(true, opText, bytes.Repeat([]byte("x"), n))
		b.Run(strconv.Itoa(n)+"B", func(b *testing.B) {
			r := bytes.NewReader(nil)
			w := rawSocket(r)
			buf := make([]byte, 0, 2048)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(frame)
				if _, _, err := w.rawRead(buf[:0], 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzRawRead: whatever a client sends, the reader returns whole messages
// within the limit, or an error; it never panics, and never holds more
// than the limit and a chunk.
func FuzzRawRead(f *testing.F) {
	f.Add(maskedFrame(true, opText, []byte("42[\"a\"]")))
	f.Add(clientFrame(true, opBinary, 1<<20, nil))
	f.Add(append(maskedFrame(false, opText, []byte("4")), maskedFrame(true, opPing, []byte("p"))...))
	f.Add(maskedFrame(true, opClose, []byte{0x03, 0xe8}))
	f.Fuzz(func(t *testing.T, in []byte) {
		server, client := net.Pipe()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		defer client.Close()
		w := &WebSocket{br: bufio.NewReaderSize(bytes.NewReader(in), hijackBuf), nc: &corkConn{Conn: server, timeout: time.Second}}
		defer w.nc.Close()
		const max = 4096
		for range 64 {
			buf, op, err := w.rawRead(nil, max)
			if cap(buf) > max+rawChunk {
				t.Fatalf("a buffer of %d bytes", cap(buf))
			}
			if err != nil {
				return
			}
			if len(buf) > max || (op != opText && op != opBinary) {
				t.Fatalf("a message of %d bytes, opcode %d", len(buf), op)
			}
		}
	})
}
