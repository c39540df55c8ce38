package transport

import (
	"errors"
	"io"
	"sync/atomic"
	"unicode/utf8"
)

// ErrInvalidUTF8: a WebSocket text message that is not valid UTF-8. The
// connection closes with status 1007 and the session with "transport
// error", as the reference does: text must be valid UTF-8 when it leaves
// sio, or every client it is relayed to would drop its connection.
var ErrInvalidUTF8 = errors.New("invalid UTF-8 in a text message")

// frameGuard reads the client's side of a WebSocket and follows its frame
// headers, so that a message over the limit is refused when the header
// that takes it past the limit arrives, before any of its payload: a
// header announcing 2^63-1 bytes fails the read at once. Once failed, every
// read fails.
type frameGuard struct {
	r   io.Reader
	max int64

	hdr     [14]byte
	hn      int   // header bytes gathered
	payload int64 // payload bytes left in the current frame
	total   int64 // bytes of the current message so far
	failed  atomic.Bool
}

func (g *frameGuard) Read(p []byte) (int, error) {
	if g.failed.Load() {
		return 0, ErrMessageTooBig
	}
	n, err := g.r.Read(p)
	if g.scan(p[:n]) {
		g.failed.Store(true)
		return n, ErrMessageTooBig
	}
	return n, err
}

// tooBig reports whether the guard has refused a message.
func (g *frameGuard) tooBig() bool { return g != nil && g.failed.Load() }

// scan follows the frames in b; true when a data frame takes its message
// over the limit (RFC 6455, section 5.2).
func (g *frameGuard) scan(b []byte) bool {
	for len(b) > 0 {
		if g.payload > 0 {
			k := min(int64(len(b)), g.payload)
			g.payload -= k
			b = b[k:]
			continue
		}
		g.hdr[g.hn] = b[0]
		g.hn++
		b = b[1:]
		if g.hn < 2 {
			continue
		}
		if g.hn < headerSize(g.hdr[1]) {
			continue
		}
		n := int64(min(payloadSize(g.hdr[:]), 1<<62))
		g.hn = 0
		if op := g.hdr[0] & 0x0f; op < 0x8 {
			// A data frame: text, binary or a continuation, whose bytes
			// count towards its message. Control frames do not.
			if op != 0 {
				g.total = 0
			}
			g.total += n
			if g.total > g.max {
				return true
			}
		}
		g.payload = n
	}
	return false
}

// appendValidUTF8 appends b to dst with each maximal ill-formed subpart
// replaced by U+FFFD, as a WHATWG (and Node.js) UTF-8 decoder does: the
// polling body then reads as the reference reads it.
func appendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r != utf8.RuneError || size > 1 {
			dst = append(dst, b[:size]...)
			b = b[size:]
			continue
		}
		dst = append(dst, "\uFFFD"...)
		b = b[maximalSubpart(b):]
	}
	return dst
}

// maximalSubpart is the length of the ill-formed sequence at the start of
// b: a lead byte and the continuation bytes that may follow it (Unicode,
// chapter 3, "U+FFFD substitution of maximal subparts").
func maximalSubpart(b []byte) int {
	c := b[0]
	need, lo, hi := 0, byte(0x80), byte(0xbf)
	switch {
	case c >= 0xc2 && c <= 0xdf:
		need = 1
	case c == 0xe0:
		need, lo = 2, 0xa0
	case c == 0xed:
		need, hi = 2, 0x9f
	case c >= 0xe1 && c <= 0xef:
		need = 2
	case c == 0xf0:
		need, lo = 3, 0x90
	case c == 0xf4:
		need, hi = 3, 0x8f
	case c >= 0xf1 && c <= 0xf3:
		need = 3
	default:
		return 1
	}
	i := 1
	for ; i <= need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xbf
	}
	return i
}
