package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sio-go/sio/transport/peertest"
)

// clientFrame is a masked client frame (RFC 6455, section 5.2); n is the
// length its header announces, and payload what follows (it may be
// shorter).
func clientFrame(fin bool, op byte, n uint64, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	dst := []byte{b0}
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, n)
	}
	dst = append(dst, 1, 2, 3, 4)
	return append(dst, payload...)
}

func TestFrameGuard(t *testing.T) {
	data := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	cat := func(fs ...[]byte) []byte { return bytes.Join(fs, nil) }
	for _, c := range []struct {
		name   string
		stream []byte
		tooBig bool
	}{
		{"under the limit", cat(clientFrame(true, 1, 100, data(100)), clientFrame(true, 2, 100, data(100))), false},
		{"exactly the limit", clientFrame(true, 1, 100, data(100)), false},
		{"one over", clientFrame(true, 1, 101, data(101)), true},
		{"16-bit length", clientFrame(true, 2, 300, nil), true},
		{"2^63-1 announced, no payload", clientFrame(true, 1, 1<<63-1, nil), true},
		{"2^64-1 announced", clientFrame(true, 1, 1<<64-1, nil), true},
		{"fragments add up", cat(clientFrame(false, 1, 60, data(60)), clientFrame(true, 0, 41, data(41))), true},
		{"fragments within", cat(clientFrame(false, 1, 60, data(60)), clientFrame(true, 0, 40, data(40))), false},
		{"control frames between fragments do not count", cat(
			clientFrame(false, 1, 60, data(60)), clientFrame(true, 9, 100, data(100)), clientFrame(true, 0, 40, data(40))), false},
		{"a new message starts again", cat(clientFrame(true, 1, 100, data(100)), clientFrame(true, 1, 100, data(100))), false},
	} {
		// Whole, and a byte at a time: headers split across reads.
		for _, step := range []int{len(c.stream), 1, 3} {
			g := &frameGuard{max: 100}
			got := false
			for i := 0; i < len(c.stream) && !got; i += step {
				got = g.scan(c.stream[i:min(i+step, len(c.stream))])
			}
			if got != c.tooBig {
				t.Errorf("%s (reads of %d): too big %v, want %v", c.name, step, got, c.tooBig)
			}
		}
	}
}

// The bytes of a polling body that are not UTF-8 become U+FFFD exactly as
// Node.js decodes them (the reference reads the body as a UTF-8 string).
func TestAppendValidUTF8MatchesNode(t *testing.T) {
	node := peertest.Node(t)
	inputs := []string{
		"", "abc", "A\xff\xfeZ", "\xe2\x82", "\xe2\x82A", "\xe2\x82\xac", "\xf0\x9f\x98",
		"\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xc0\xaf", "\xe0\x80\xaf", "\xf4\x90\x80\x80",
		"\xf5", "\x80\x80", "\xef\xbf\xbd", "\xf0\x90", "\xe0\xa0", "\xed\x9f\xbf",
	}
	// Random strings over the bytes where decoders differ.
	alphabet := []byte{'a', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		b := make([]byte, rng.IntN(8))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	var in strings.Builder
	for _, s := range inputs {
		in.WriteString(hex.EncodeToString([]byte(s)) + "\n")
	}
	js := `const rl = require("readline").createInterface({input: process.stdin});
const out = [];
rl.on("line", (l) => out.push(Buffer.from(Buffer.from(l, "hex").toString("utf8"), "utf8").toString("hex")));
rl.on("close", () => process.stdout.write(out.join("\n") + "\n"));`
	cmd := exec.Command(node, "-e", js)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for i, s := range inputs {
		if !sc.Scan() {
			t.Fatalf("node answered %d lines of %d", i, len(inputs))
		}
		want, _ := hex.DecodeString(sc.Text())
		got := appendValidUTF8(nil, []byte(s))
		if !bytes.Equal(got, want) {
			t.Errorf("%q: got %q, node %q", s, got, want)
		}
		if !utf8.Valid(got) {
			t.Errorf("%q: %q is not UTF-8", s, got)
		}
	}
}

// BenchmarkFrameGuardScan: the guard's cost on the read path, per byte
// read, for 1 KiB text messages.
func BenchmarkFrameGuardScan(b *testing.B) {
	var stream []byte
	for range 64 {
		stream = append(stream, clientFrame(true, 1, 1024, bytes.Repeat([]byte{'x'}, 1024))...)
	}
	g := &frameGuard{max: 1 << 20}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		for i := 0; i < len(stream); i += 4096 {
			if g.scan(stream[i:min(i+4096, len(stream))]) {
				b.Fatal("refused")
			}
		}
	}
}

// BenchmarkUTF8Check: the validation of a 1 KiB text message.
func BenchmarkUTF8Check(b *testing.B) {
	msg := []byte(`42["chat",{"text":"` + strings.Repeat("héllo ", 170) + `"}]`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if !utf8.Valid(msg) {
			b.Fatal("invalid")
		}
	}
}
