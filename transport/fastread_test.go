//go:build !js

package transport

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"pgregory.net/rapid"
)

// wholeMessage says a message is whole exactly when the reader reads one
// from those bytes alone, without asking for more: the fast read then
// never reads the socket in the middle of a message. The bytes are any
// prefix of a stream of frames (data, continuation, pong), split anywhere
// between the reader's small buffer and the pre-read one.
func TestWholeMessage(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var stream []byte
		for range rapid.IntRange(1, 6).Draw(t, "frames") {
			op := rapid.SampledFrom([]byte{opText, opBinary, opContinuation, opPong}).Draw(t, "op")
			fin := rapid.Bool().Draw(t, "fin")
			size := rapid.SampledFrom([]int{0, 1, 5, 125, 126, 127, 300, 65535, 65536, 70000}).Draw(t, "size")
			if op == opPong && size > 125 {
				size = 125
			}
			stream = append(stream, maskedFrame(fin, op, make([]byte, size))...)
		}
		k := rapid.IntRange(0, len(stream)).Draw(t, "prefix")
		cut := rapid.IntRange(0, k).Draw(t, "cut")
		a, b := stream[:cut], stream[cut:k]
		whole := wholeMessage(a, b)

		w := &WebSocket{nc: &corkConn{}, br: bufio.NewReaderSize(bytes.NewReader(stream[:k]), 16)}
		_, _, err := w.rawRead(nil, 1<<20)
		short := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		switch {
		case whole && short:
			t.Fatalf("whole, but the reader wanted more: %v", err)
		case !whole && err == nil:
			t.Fatal("not whole, but the reader read a message")
		}
	})
}

// The examples: a header cut anywhere, a payload one byte short, control
// frames before the message, a fragmented message.
func TestWholeMessageExamples(t *testing.T) {
	msg := maskedFrame(true, opText, []byte(`42["echo",1]`))
	for i := range len(msg) {
		if wholeMessage(msg[:i], nil) || wholeMessage(nil, msg[:i]) {
			t.Fatalf("%d of %d bytes: whole", i, len(msg))
		}
	}
	for cut := range len(msg) + 1 {
		if !wholeMessage(msg[:cut], msg[cut:]) {
			t.Fatalf("split at %d: not whole", cut)
		}
	}
	pong := maskedFrame(true, opPong, nil)
	if wholeMessage(pong, nil) {
		t.Fatal("a pong alone is a message")
	}
	if !wholeMessage(pong, msg) {
		t.Fatal("a pong then a message: not whole")
	}
	first := maskedFrame(false, opText, []byte("ab"))
	last := maskedFrame(true, opContinuation, []byte("cd"))
	if wholeMessage(first, nil) || !wholeMessage(first, last) {
		t.Fatal("a fragmented message")
	}
	if n := testing.AllocsPerRun(100, func() { wholeMessage(msg[:5], msg[5:]) }); n != 0 {
		t.Fatalf("%v allocations per check", n)
	}
	big := maskedFrame(true, opBinary, make([]byte, 70000))
	if wholeMessage(big[:len(big)-1], nil) || !wholeMessage(big[:10], big[10:]) {
		t.Fatal("a 64-bit length")
	}
}
