package core

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"iter"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sio-go/sio/core/sio"
)

// Header is the request headers of a handshake, read as an http.Header
// is: Get and Values match names without regard to case, All lists them.
// It keeps every name and value in one string, so that a connection holds
// its request's headers for the few hundred bytes they took on the wire
// rather than a map of slices several times that size. A Header is
// immutable, and its zero value is empty.
//
// MakeHeader builds one from an http.Header (or any map of names to
// values); Map gives a map back, as http.Header(h.Map()).
type Header struct {
	// s holds, for each value in order (names sorted, a name's values in
	// their order): the name, then the length of the value as a uvarint
	// and the value. A name is a uvarint x, then for an even x the x/2
	// bytes of the name, for an odd x nothing: it is commonNames[x/2].
	s string
}

// commonNames are the names of the headers that browsers and the
// clients send when they open a session, in canonical form: a Header
// stores each as one byte.
var commonNames = [...]string{
	"Accept", "Accept-Encoding", "Accept-Language", "Authorization",
	"Cache-Control", "Connection", "Content-Length", "Content-Type",
	"Cookie", "Dnt", "Host", "Origin", "Pragma", "Priority", "Referer",
	"Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform",
	"Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
	"Sec-Websocket-Extensions", "Sec-Websocket-Key", "Sec-Websocket-Protocol",
	"Sec-Websocket-Version", "Upgrade", "User-Agent",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip",
}

// commonIndex is the index of each of commonNames.
var commonIndex = func() map[string]int {
	m := make(map[string]int, len(commonNames))
	for i, n := range commonNames {
		m[n] = i
	}
	return m
}()

// nameCode is the uvarint that stores name (see Header.s).
func nameCode(name string) uint64 {
	if i, ok := commonIndex[name]; ok {
		return uint64(2*i + 1)
	}
	return uint64(2 * len(name))
}

// MakeHeader returns the headers of m, an http.Header or any map of names
// to values. Names are kept as they are (an http.Header's are canonical);
// a name with no value is left out.
func MakeHeader(m map[string][]string) Header {
	var buf [32]string
	names := buf[:0]
	size := 0
	for k, vs := range m {
		if len(vs) == 0 {
			continue
		}
		names = append(names, k)
		nameLen := uvarintLen(nameCode(k))
		if nameCode(k)%2 == 0 {
			nameLen += len(k)
		}
		for _, v := range vs {
			size += nameLen + uvarintLen(uint64(len(v))) + len(v)
		}
	}
	if len(names) == 0 {
		return Header{}
	}
	slices.Sort(names)
	var b strings.Builder
	b.Grow(size)
	var n [binary.MaxVarintLen64]byte
	for _, k := range names {
		code := nameCode(k)
		for _, v := range m[k] {
			b.Write(n[:binary.PutUvarint(n[:], code)])
			if code%2 == 0 {
				b.WriteString(k)
			}
			b.Write(n[:binary.PutUvarint(n[:], uint64(len(v)))])
			b.WriteString(v)
		}
	}
	return Header{s: b.String()}
}

// uvarintLen is the length of n as a uvarint.
func uvarintLen(n uint64) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// next reads the pair at offset i of h.s and returns it with the offset
// of the next; ok is false at the end.
func (h Header) next(i int) (name, value string, j int, ok bool) {
	if i >= len(h.s) {
		return "", "", i, false
	}
	n, w := uvarintString(h.s[i:])
	i += w
	if n%2 == 1 {
		name = commonNames[n/2]
	} else {
		name = h.s[i : i+int(n/2)]
		i += int(n / 2)
	}
	n, w = uvarintString(h.s[i:])
	i += w
	value = h.s[i : i+int(n)]
	return name, value, i + int(n), true
}

// uvarintString is binary.Uvarint of a string, well formed by MakeHeader.
func uvarintString(s string) (uint64, int) {
	var x uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 {
			return x | uint64(c)<<(7*i), i + 1
		}
		x |= uint64(c&0x7f) << (7 * i)
	}
	return x, len(s)
}

// Get returns the first value of the header named key, matched without
// regard to case, or "".
func (h Header) Get(key string) string {
	for i := 0; ; {
		name, value, j, ok := h.next(i)
		if !ok {
			return ""
		}
		if equalFold(name, key) {
			return value
		}
		i = j
	}
}

// Values returns the values of the header named key, matched without
// regard to case, in order; nil when it has none.
func (h Header) Values(key string) []string {
	var out []string
	for i := 0; ; {
		name, value, j, ok := h.next(i)
		if !ok {
			return out
		}
		if equalFold(name, key) {
			out = append(out, value)
		}
		i = j
	}
}

// All yields each name and value, names in sorted order and a name's
// values in their order (a name with two values comes twice).
func (h Header) All() iter.Seq2[string, string] {
	return func(yield func(name, value string) bool) {
		for i := 0; ; {
			name, value, j, ok := h.next(i)
			if !ok || !yield(name, value) {
				return
			}
			i = j
		}
	}
}

// Len is the number of names.
func (h Header) Len() int {
	n, last := 0, ""
	for name := range h.All() {
		if n == 0 || name != last {
			n, last = n+1, name
		}
	}
	return n
}

// Map returns the headers as a new map of names to values, which the
// caller owns; http.Header(h.Map()) makes an http.Header of it.
func (h Header) Map() map[string][]string {
	m := make(map[string][]string, h.Len())
	for name, value := range h.All() {
		m[name] = append(m[name], value)
	}
	return m
}

// MarshalJSON encodes the headers as a JSON object of names to arrays of
// values, as encoding/json encodes an http.Header.
func (h Header) MarshalJSON() ([]byte, error) { return json.Marshal(h.Map()) }

// UnmarshalJSON decodes the form MarshalJSON writes.
func (h *Header) UnmarshalJSON(b []byte) error {
	var m map[string][]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*h = MakeHeader(m)
	return nil
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Query returns the parsed query of the opening request (parsed at each
// call: a connection keeps only the string).
func (h *Handshake) Query() url.Values {
	q, _ := url.ParseQuery(h.RawQuery)
	return q
}

// Handshake is what a middleware knows of a client: the HTTP request that
// opened the Engine.IO session, and the auth payload of the namespace
// connect.
type Handshake struct {
	// Header is the opening request's headers; read them with
	// Header.Get, Header.Values and Header.All.
	Header Header
	// RawQuery is the query string of the opening request; Query parses it.
	RawQuery string
	Address  string    // the remote address
	Secure   bool      // the request came over TLS
	XDomain  bool      // the request carried an Origin header
	URL      string    // the request URI
	Time     time.Time // when the session opened
	// Context is the opening request's context when the adapter keeps it
	// (httpadapter's KeepRequestContext): the values that router
	// middlewares put there stay readable, its cancellation does not
	// apply. Otherwise, and never nil, context.Background().
	Context context.Context
	// Auth is the JSON the client sent with its namespace connect
	// (absent: Auth.JSON is nil). Bind it with Auth.Bind.
	Auth sio.Raw
}
