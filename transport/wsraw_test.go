//go:build !js

package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"strconv"
	"testing"
)

// maskedFrame is a client's frame: op, fin, payload masked with key.
func maskedFrame(fin bool, op byte, payload []byte, key uint32) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = binary.LittleEndian.AppendUint32(f, key)
	for i, c := range payload {
		f = append(f, c^byte(key>>(8*(i%4))))
	}
	return f
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
	in.Write(maskedFrame(true, opText, []byte("42[\"x\"]"), 1))
	in.Write(maskedFrame(false, opBinary, mid[:50], 2))
	in.Write(maskedFrame(true, opPong, []byte("p"), 3))
	in.Write(maskedFrame(false, opContinuation, mid[50:], 4))
	in.Write(maskedFrame(true, opContinuation, nil, 5))
	in.Write(maskedFrame(true, opText, big, 6))
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
	in.Write(maskedFrame(false, opText, mid[:60], 7))
	in.Write(maskedFrame(true, opContinuation, mid[60:], 8))
	if _, _, err := rawSocket(&in).rawRead(nil, 100); err != ErrMessageTooBig {
		t.Fatalf("over the limit: %v, want ErrMessageTooBig", err)
	}
}

// TestRawReadAllocs: reading a message into a buffer that fits allocates
// nothing.
func TestRawReadAllocs(t *testing.T) {
	frame := maskedFrame(true, opText, []byte("42[\"echo\",1,\"two\"]"), 0x11223344)
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
		frame := maskedFrame(true, opText, bytes.Repeat([]byte("x"), n), 0x11223344)
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
