package sio

import "strconv"

// JSON value kinds reported by the scanner.
const (
	kindNone byte = iota
	kindObject
	kindArray
	kindString
	kindNumber
	kindTrue
	kindFalse
	kindNull
)

// maxScanDepth bounds JSON nesting where no Limits apply (SplitArgs, Bind,
// the encoder's checks of Raw values and marshaler output).
const maxScanDepth = 10000

// span is a half-open byte range [start, end).
type span struct{ start, end int }

// phRef is a placeholder found by the scanner: the span of the whole object
// and the span of the digits of its num, with their value.
type phRef struct {
	obj span
	num span
	n   int
}

// scanner validates one JSON text by recursive descent, bounded by maxDepth.
// It checks every placeholder object against natt (unless noPH is set) and
// can record placeholders and the elements of a top-level array. It never
// allocates except for errors and the slices it is asked to fill.
type scanner struct {
	buf      []byte
	pos      int
	base     int // added to positions in errors
	maxDepth int
	natt     int  // placeholders must have num in [0, natt)
	noPH     bool // treat placeholders as plain objects
	unique   bool // each attachment may be referenced once

	seen0   uint64   // attachments 0..63 referenced so far, when unique
	seenBig []uint64 // the same for all attachments, when natt > 64

	recordPH bool
	phs      []phRef

	nelems    int  // number of elements of the top-level array
	firstKind byte // kind of the first element of the top-level array
	first     span
}

func (s *scanner) fail(code ErrorCode, msg string) error {
	return newError(code, s.base+s.pos, msg)
}

func (s *scanner) unexpected() error {
	if s.pos >= len(s.buf) {
		return s.fail(ErrCodeSyntax, "unexpected end of JSON")
	}
	return s.fail(ErrCodeSyntax, "invalid character "+strconv.QuoteRune(rune(s.buf[s.pos]))+" in JSON")
}

// topArray scans the whole buffer as one JSON array and appends the spans
// of its elements to elems. It reports kindNone without error when the
// buffer holds valid JSON that is not an array.
func (s *scanner) topArray(elems []span) ([]span, byte, error) {
	s.skipWS()
	if s.pos >= len(s.buf) || s.buf[s.pos] != '[' {
		_, err := s.top()
		return elems, kindNone, err
	}
	s.pos++
	s.skipWS()
	if s.pos < len(s.buf) && s.buf[s.pos] == ']' {
		s.pos++
	} else {
		for {
			s.skipWS()
			start := s.pos
			if _, err := s.value(1); err != nil {
				return elems, kindNone, err
			}
			elems = append(elems, span{start, s.pos})
			s.skipWS()
			if s.pos >= len(s.buf) {
				return elems, kindNone, s.unexpected()
			}
			c := s.buf[s.pos]
			s.pos++
			if c == ']' {
				break
			}
			if c != ',' {
				s.pos--
				return elems, kindNone, s.unexpected()
			}
		}
	}
	s.skipWS()
	if s.pos != len(s.buf) {
		return elems, kindNone, s.fail(ErrCodeSyntax, "invalid character "+strconv.QuoteRune(rune(s.buf[s.pos]))+" after JSON value")
	}
	return elems, kindArray, nil
}

// top scans the whole buffer as one JSON value with optional surrounding
// whitespace and returns its kind.
func (s *scanner) top() (byte, error) {
	k, err := s.value(0)
	if err != nil {
		return k, err
	}
	s.skipWS()
	if s.pos != len(s.buf) {
		return k, s.fail(ErrCodeSyntax, "invalid character "+strconv.QuoteRune(rune(s.buf[s.pos]))+" after JSON value")
	}
	return k, nil
}

func (s *scanner) skipWS() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value scans one value; depth is the nesting depth of its container.
func (s *scanner) value(depth int) (byte, error) {
	s.skipWS()
	if s.pos >= len(s.buf) {
		return kindNone, s.unexpected()
	}
	switch c := s.buf[s.pos]; {
	case c == '{':
		return kindObject, s.object(depth + 1)
	case c == '[':
		return kindArray, s.array(depth + 1)
	case c == '"':
		_, err := s.str()
		return kindString, err
	case c == 't':
		return kindTrue, s.lit("true")
	case c == 'f':
		return kindFalse, s.lit("false")
	case c == 'n':
		return kindNull, s.lit("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return kindNumber, s.number()
	}
	return kindNone, s.unexpected()
}

func (s *scanner) lit(want string) error {
	if len(s.buf)-s.pos >= len(want) && string(s.buf[s.pos:s.pos+len(want)]) == want {
		s.pos += len(want)
		return nil
	}
	for i := 0; i < len(want); i++ {
		if s.pos >= len(s.buf) || s.buf[s.pos] != want[i] {
			return s.unexpected()
		}
		s.pos++
	}
	return nil
}

func (s *scanner) digits() int {
	n := 0
	for s.pos < len(s.buf) && '0' <= s.buf[s.pos] && s.buf[s.pos] <= '9' {
		s.pos++
		n++
	}
	return n
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.buf[s.pos] == '-' {
		s.pos++
	}
	if s.pos >= len(s.buf) {
		return s.unexpected()
	}
	switch c := s.buf[s.pos]; {
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return s.unexpected()
	}
	if s.pos < len(s.buf) && s.buf[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return s.unexpected()
		}
	}
	if s.pos < len(s.buf) && (s.buf[s.pos] == 'e' || s.buf[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.buf) && (s.buf[s.pos] == '+' || s.buf[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return s.unexpected()
		}
	}
	return nil
}

// str scans a string and reports whether it contains escapes.
func (s *scanner) str() (escaped bool, err error) {
	s.pos++ // opening quote
	for {
		// Fast path over ordinary bytes.
		for s.pos < len(s.buf) {
			c := s.buf[s.pos]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
			s.pos++
		}
		if s.pos >= len(s.buf) {
			return escaped, s.fail(ErrCodeSyntax, "unterminated string")
		}
		switch c := s.buf[s.pos]; c {
		case '"':
			s.pos++
			return escaped, nil
		case '\\':
			escaped = true
			s.pos++
			if s.pos >= len(s.buf) {
				return escaped, s.fail(ErrCodeSyntax, "unterminated string")
			}
			switch s.buf[s.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
			case 'u':
				s.pos++
				for i := 0; i < 4; i++ {
					if s.pos >= len(s.buf) || hexVal(s.buf[s.pos]) < 0 {
						return escaped, s.fail(ErrCodeSyntax, "bad \\u escape in string")
					}
					s.pos++
				}
			default:
				return escaped, s.fail(ErrCodeSyntax, "bad escape in string")
			}
		default:
			return escaped, s.fail(ErrCodeSyntax, "control character in string")
		}
	}
}

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func (s *scanner) array(depth int) error {
	if depth > s.maxDepth {
		return limitError(ErrCodeTooDeep, s.base+s.pos, s.maxDepth, "JSON nesting too deep")
	}
	s.pos++ // [
	s.skipWS()
	if s.pos < len(s.buf) && s.buf[s.pos] == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		s.skipWS()
		start := s.pos
		k, err := s.value(depth)
		if err != nil {
			return err
		}
		if depth == 1 {
			s.nelems++
			if i == 0 {
				s.firstKind, s.first = k, span{start, s.pos}
			}
		}
		s.skipWS()
		if s.pos >= len(s.buf) {
			return s.unexpected()
		}
		switch s.buf[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.unexpected()
		}
	}
}

// Placeholder key classes.
const (
	keyOther = iota
	keyPlaceholder
	keyNum
)

func classifyKey(raw []byte, escaped bool) int {
	inner := raw[1 : len(raw)-1]
	if escaped {
		// The longest escaped spelling of "_placeholder" is 12 \uXXXX escapes.
		if len(inner) > 72 {
			return keyOther
		}
		var tmp [80]byte
		inner = appendUnquoted(tmp[:0], raw)
	}
	switch string(inner) {
	case "_placeholder":
		return keyPlaceholder
	case "num":
		return keyNum
	}
	return keyOther
}

func (s *scanner) object(depth int) error {
	if depth > s.maxDepth {
		return limitError(ErrCodeTooDeep, s.base+s.pos, s.maxDepth, "JSON nesting too deep")
	}
	start := s.pos
	s.pos++ // {
	s.skipWS()
	if s.pos < len(s.buf) && s.buf[s.pos] == '}' {
		s.pos++
		return nil
	}
	var (
		members int
		isPH    bool
		numOK   bool
		num     span
	)
	for {
		s.skipWS()
		if s.pos >= len(s.buf) || s.buf[s.pos] != '"' {
			return s.unexpected()
		}
		kstart := s.pos
		escaped, err := s.str()
		if err != nil {
			return err
		}
		key := s.buf[kstart:s.pos]
		s.skipWS()
		if s.pos >= len(s.buf) || s.buf[s.pos] != ':' {
			return s.unexpected()
		}
		s.pos++
		s.skipWS()
		vstart := s.pos
		k, err := s.value(depth)
		if err != nil {
			return err
		}
		members++
		if !s.noPH && (k == kindTrue || k == kindNumber) {
			switch classifyKey(key, escaped) {
			case keyPlaceholder:
				isPH = k == kindTrue
			case keyNum:
				numOK, num = k == kindNumber, span{vstart, s.pos}
			}
		}
		s.skipWS()
		if s.pos >= len(s.buf) {
			return s.unexpected()
		}
		if s.buf[s.pos] == ',' {
			s.pos++
			continue
		}
		if s.buf[s.pos] != '}' {
			return s.unexpected()
		}
		s.pos++
		break
	}
	if !isPH {
		return nil
	}
	n := -1
	if members == 2 && numOK {
		n = smallIndex(s.buf[num.start:num.end], s.natt)
	}
	if n < 0 {
		return newError(ErrCodeBadPlaceholder, s.base+start,
			"placeholder must be {\"_placeholder\":true,\"num\":N} with integer N in [0,"+strconv.Itoa(s.natt)+")")
	}
	if s.unique && s.referenced(n) {
		return newError(ErrCodeBadPlaceholder, s.base+start, "attachment "+strconv.Itoa(n)+" referenced twice")
	}
	if s.recordPH {
		s.phs = append(s.phs, phRef{obj: span{start, s.pos}, num: num, n: n})
	}
	return nil
}

// referenced marks attachment n as referenced and reports whether it
// already was.
func (s *scanner) referenced(n int) bool {
	if s.natt <= 64 {
		bit := uint64(1) << n
		was := s.seen0&bit != 0
		s.seen0 |= bit
		return was
	}
	if s.seenBig == nil {
		s.seenBig = make([]uint64, (s.natt+63)/64)
	}
	w, bit := n/64, uint64(1)<<(n%64)
	was := s.seenBig[w]&bit != 0
	s.seenBig[w] |= bit
	return was
}

// smallIndex parses b as plain decimal digits and returns its value if it is
// below limit, else -1.
func smallIndex(b []byte, limit int) int {
	if len(b) == 0 || (len(b) > 1 && b[0] == '0') {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
		if n >= limit {
			return -1
		}
	}
	return n
}
