package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// The values that travel on the bus are JavaScript values: the Node
// adapters write them with JSON.stringify or as MessagePack (the flavour of
// the notepack.io library). A value here is one of:
//
//	nil, bool, int64, uint64, float64, string, []byte, time.Time,
//	[]any (an array), *object (an object, keys in order), extValue
//
// and is converted to and from JSON (with Socket.IO placeholders standing
// for binary, or binary written as Node writes a Buffer in JSON) and
// MessagePack.

// object is a JavaScript object with its keys in insertion order.
type object struct {
	keys []string
	vals []any
}

func newObject(kv ...any) *object {
	o := &object{keys: make([]string, 0, len(kv)/2), vals: make([]any, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

// set sets key k, replacing an earlier value (a key appears once, at its
// first place, as in JavaScript).
func (o *object) set(k string, v any) {
	for i, key := range o.keys {
		if key == k {
			o.vals[i] = v
			return
		}
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

func (o *object) get(k string) (any, bool) {
	if o == nil {
		return nil, false
	}
	for i, key := range o.keys {
		if key == k {
			return o.vals[i], true
		}
	}
	return nil, false
}

func (o *object) str(k string) string {
	v, _ := o.get(k)
	s, _ := v.(string)
	return s
}

func (o *object) obj(k string) *object {
	v, _ := o.get(k)
	x, _ := v.(*object)
	return x
}

func (o *object) bool(k string) bool {
	v, _ := o.get(k)
	b, _ := v.(bool)
	return b
}

// int returns the integer at k (a number without fraction), and whether
// there was one.
func (o *object) int(k string) (int64, bool) {
	v, _ := o.get(k)
	return toInt(v)
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n), true
		}
	case float64:
		if n == math.Trunc(n) && math.Abs(n) <= 1<<53 {
			return int64(n), true
		}
	}
	return 0, false
}

// strings returns the array of strings at k; numbers become their decimal
// text, as JavaScript room names would. ok is false when k holds something
// else than an array of strings and numbers (absent counts as empty).
func (o *object) strings(k string) (out []string, ok bool) {
	v, present := o.get(k)
	if !present || v == nil {
		return nil, true
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, false
	}
	out = make([]string, 0, len(arr))
	for _, e := range arr {
		switch e := e.(type) {
		case string:
			out = append(out, e)
		case int64, uint64, float64:
			out = append(out, string(appendNumber(nil, e)))
		default:
			return nil, false
		}
	}
	return out, true
}

// extValue is a MessagePack extension other than the timestamp, kept as
// notepack.io decodes it: [type, bytes].
type extValue struct {
	typ  int8
	data []byte
}

var errTooDeep = errors.New("cluster: value nested too deeply")

// ---------------------------------------------------------------------------
// JSON to value.

// parseJSON decodes JSON into a value. With atts non-nil, an object
// {"_placeholder":true,"num":N} stands for the binary atts[N].
func parseJSON(data []byte, atts [][]byte, maxDepth int) (any, error) {
	p := jsonParser{buf: data, atts: atts, maxDepth: maxDepth}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.pos != len(p.buf) {
		return nil, p.errorf("trailing data after JSON value")
	}
	return v, nil
}

// jsonParser reads JSON (RFC 8259) into values, keeping object keys in
// order and integers exact.
type jsonParser struct {
	buf      []byte
	pos      int
	atts     [][]byte
	maxDepth int
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("cluster: JSON at offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *jsonParser) ws() {
	for p.pos < len(p.buf) {
		switch p.buf[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, error) {
	p.ws()
	if p.pos >= len(p.buf) {
		return nil, p.errorf("unexpected end")
	}
	switch c := p.buf[p.pos]; {
	case c == '{':
		if depth >= p.maxDepth {
			return nil, errTooDeep
		}
		return p.object(depth)
	case c == '[':
		if depth >= p.maxDepth {
			return nil, errTooDeep
		}
		p.pos++
		arr := []any{}
		p.ws()
		if p.pos < len(p.buf) && p.buf[p.pos] == ']' {
			p.pos++
			return arr, nil
		}
		for {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
			p.ws()
			if p.pos >= len(p.buf) {
				return nil, p.errorf("unexpected end in array")
			}
			if p.buf[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.buf[p.pos] == ']' {
				p.pos++
				return arr, nil
			}
			return nil, p.errorf("unexpected %q in array", p.buf[p.pos])
		}
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	return nil, p.errorf("unexpected %q", p.buf[p.pos])
}

func (p *jsonParser) literal(lit string) error {
	if len(p.buf)-p.pos < len(lit) || string(p.buf[p.pos:p.pos+len(lit)]) != lit {
		return p.errorf("invalid literal")
	}
	p.pos += len(lit)
	return nil
}

func (p *jsonParser) object(depth int) (any, error) {
	p.pos++ // '{'
	o := &object{}
	p.ws()
	if p.pos < len(p.buf) && p.buf[p.pos] == '}' {
		p.pos++
		return o, nil
	}
	for {
		p.ws()
		if p.pos >= len(p.buf) || p.buf[p.pos] != '"' {
			return nil, p.errorf("object key is not a string")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.pos >= len(p.buf) || p.buf[p.pos] != ':' {
			return nil, p.errorf("missing ':' after object key")
		}
		p.pos++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		o.set(k.(string), v)
		p.ws()
		if p.pos >= len(p.buf) {
			return nil, p.errorf("unexpected end in object")
		}
		if p.buf[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.buf[p.pos] == '}' {
			p.pos++
			break
		}
		return nil, p.errorf("unexpected %q in object", p.buf[p.pos])
	}
	if p.atts != nil && len(o.keys) == 2 && o.bool("_placeholder") {
		if n, ok := o.int("num"); ok {
			if n < 0 || n >= int64(len(p.atts)) {
				return nil, fmt.Errorf("cluster: placeholder %d of %d attachments", n, len(p.atts))
			}
			return p.atts[n], nil
		}
	}
	return o, nil
}

// str reads a string; the common case without escapes is one allocation.
func (p *jsonParser) str() (any, error) {
	p.pos++ // '"'
	start := p.pos
	for p.pos < len(p.buf) {
		c := p.buf[p.pos]
		if c == '"' {
			s := string(p.buf[start:p.pos])
			p.pos++
			if !utf8.ValidString(s) {
				return string([]rune(s)), nil // invalid bytes become U+FFFD
			}
			return s, nil
		}
		if c == '\\' {
			return p.escapedStr(start)
		}
		if c < 0x20 {
			return nil, p.errorf("control character in string")
		}
		p.pos++
	}
	return nil, p.errorf("unterminated string")
}

func (p *jsonParser) escapedStr(start int) (any, error) {
	b := append([]byte(nil), p.buf[start:p.pos]...)
	for p.pos < len(p.buf) {
		c := p.buf[p.pos]
		switch {
		case c == '"':
			p.pos++
			if !utf8.Valid(b) {
				return string([]rune(string(b))), nil
			}
			return string(b), nil
		case c < 0x20:
			return nil, p.errorf("control character in string")
		case c != '\\':
			b = append(b, c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.buf) {
			return nil, p.errorf("unterminated escape")
		}
		e := p.buf[p.pos+1]
		p.pos += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, p.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate pairs with a low one that follows;
				// anything else stands alone and is replaced.
				d := unicode.ReplacementChar
				if r < 0xdc00 && p.pos+1 < len(p.buf) && p.buf[p.pos] == '\\' && p.buf[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					if r2, ok := p.hex4(); ok && 0xdc00 <= r2 && r2 <= 0xdfff {
						d = utf16.DecodeRune(r, r2)
					} else {
						p.pos = save
					}
				}
				r = d
			}
			b = utf8.AppendRune(b, r)
		default:
			return nil, p.errorf("bad escape \\%c", e)
		}
	}
	return nil, p.errorf("unterminated string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.buf)-p.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.buf[p.pos : p.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}

func (p *jsonParser) number() (any, error) {
	start := p.pos
	if p.buf[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(p.buf) && '0' <= p.buf[p.pos] && p.buf[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	lead := p.pos
	if n := digits(); n == 0 || n > 1 && p.buf[lead] == '0' {
		return nil, p.errorf("bad number")
	}
	isInt := true
	if p.pos < len(p.buf) && p.buf[p.pos] == '.' {
		isInt = false
		p.pos++
		if digits() == 0 {
			return nil, p.errorf("bad number")
		}
	}
	if p.pos < len(p.buf) && (p.buf[p.pos] == 'e' || p.buf[p.pos] == 'E') {
		isInt = false
		p.pos++
		if p.pos < len(p.buf) && (p.buf[p.pos] == '+' || p.buf[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.errorf("bad number")
		}
	}
	s := string(p.buf[start:p.pos])
	if isInt && len(s) < 19 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			return n, nil
		}
	}
	return parseNumber(s)
}

// parseNumber reads a JSON number as JavaScript would hold it, keeping
// integers exact: int64 or uint64 when it is an integer that fits, float64
// otherwise.
func parseNumber(s string) (any, error) {
	isInt := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' || c == 'e' || c == 'E' {
			isInt = false
			break
		}
	}
	if isInt {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, err
	}
	return f, nil
}

// ---------------------------------------------------------------------------
// Value to JSON.

// binaryMode says how []byte is written in JSON.
type binaryMode uint8

const (
	// binPlaceholder writes a Socket.IO placeholder and collects the bytes
	// as an attachment.
	binPlaceholder binaryMode = iota
	// binBuffer writes what JSON.stringify writes for a Node Buffer.
	binBuffer
)

type jsonWriter struct {
	mode binaryMode
	atts [][]byte
}

func (w *jsonWriter) append(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if v {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case int64, uint64, float64:
		return appendNumber(b, v)
	case string:
		return appendJSONString(b, v)
	case []byte:
		if w.mode == binBuffer {
			b = append(b, `{"type":"Buffer","data":[`...)
			for i, c := range v {
				if i > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendUint(b, uint64(c), 10)
			}
			return append(b, "]}"...)
		}
		b = append(b, `{"_placeholder":true,"num":`...)
		b = strconv.AppendInt(b, int64(len(w.atts)), 10)
		w.atts = append(w.atts, v)
		return append(b, '}')
	case time.Time:
		// Date.prototype.toJSON: ISO 8601 in UTC, milliseconds.
		b = append(b, '"')
		b = v.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
		return append(b, '"')
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = w.append(b, e)
		}
		return append(b, ']')
	case *object:
		b = append(b, '{')
		for i, k := range v.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = w.append(b, v.vals[i])
		}
		return append(b, '}')
	case extValue:
		return w.append(b, []any{int64(v.typ), v.data})
	case json.RawMessage:
		return append(b, v...)
	}
	return append(b, "null"...)
}

// appendNumber writes a number as JavaScript's JSON.stringify does:
// integers in decimal, other finite numbers in the shortest form that reads
// back the same (exponent form below 1e-6 and from 1e21), NaN and the
// infinities as null.
func appendNumber(b []byte, v any) []byte {
	switch n := v.(type) {
	case int64:
		return strconv.AppendInt(b, n, 10)
	case uint64:
		return strconv.AppendUint(b, n, 10)
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return append(b, "null"...)
		}
		abs := math.Abs(n)
		if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
			start := len(b)
			b = strconv.AppendFloat(b, n, 'e', -1, 64)
			// Go writes e-07 where JavaScript writes e-7.
			if i := bytes.LastIndexByte(b[start:], 'e'); i >= 0 {
				i += start
				if len(b) > i+3 && (b[i+1] == '-' || b[i+1] == '+') && b[i+2] == '0' {
					b = append(b[:i+2], b[i+3:]...)
				}
			}
			return b
		}
		return strconv.AppendFloat(b, n, 'f', -1, 64)
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ---------------------------------------------------------------------------
// MessagePack.

// appendMsgpack encodes v as notepack.io would encode the same JavaScript
// value: integers in their smallest form (a float64 without fraction is an
// integer in JavaScript), other numbers as float64, binary as bin, dates as
// the timestamp extension, object keys in order.
func appendMsgpack(enc *msgpack.Encoder, v any) error {
	switch v := v.(type) {
	case nil:
		return enc.EncodeNil()
	case bool:
		return enc.EncodeBool(v)
	case int64:
		return enc.EncodeInt(v)
	case uint64:
		return enc.EncodeUint(v)
	case float64:
		if v == math.Trunc(v) && !math.IsInf(v, 0) && math.Abs(v) < 1<<63 && !(v == 0 && math.Signbit(v)) {
			return enc.EncodeInt(int64(v))
		}
		return enc.EncodeFloat64(v)
	case string:
		return enc.EncodeString(v)
	case []byte:
		return enc.EncodeBytes(v)
	case time.Time:
		return enc.EncodeTime(v)
	case []any:
		if err := enc.EncodeArrayLen(len(v)); err != nil {
			return err
		}
		for _, e := range v {
			if err := appendMsgpack(enc, e); err != nil {
				return err
			}
		}
		return nil
	case []string:
		if err := enc.EncodeArrayLen(len(v)); err != nil {
			return err
		}
		for _, e := range v {
			if err := enc.EncodeString(e); err != nil {
				return err
			}
		}
		return nil
	case *object:
		if err := enc.EncodeMapLen(len(v.keys)); err != nil {
			return err
		}
		for i, k := range v.keys {
			if err := enc.EncodeString(k); err != nil {
				return err
			}
			if err := appendMsgpack(enc, v.vals[i]); err != nil {
				return err
			}
		}
		return nil
	case extValue:
		if err := enc.EncodeExtHeader(v.typ, len(v.data)); err != nil {
			return err
		}
		_, err := enc.Writer().Write(v.data)
		return err
	case json.RawMessage:
		x, err := parseJSON(v, nil, 512)
		if err != nil {
			return err
		}
		return appendMsgpack(enc, x)
	}
	return fmt.Errorf("cluster: cannot encode %T", v)
}

// encodeMsgpack returns the MessagePack bytes of v.
func encodeMsgpack(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	if err := appendMsgpack(enc, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeMsgpack decodes one MessagePack value, nested at most maxDepth
// deep, that must fill data.
func decodeMsgpack(data []byte, maxDepth int) (any, error) {
	r := bytes.NewReader(data)
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(r)
	md := msgpackDecoder{dec: dec, r: r, maxDepth: maxDepth}
	v, err := md.value(0)
	if err != nil {
		return nil, fmt.Errorf("cluster: msgpack: %w", err)
	}
	if r.Len() != 0 {
		return nil, errors.New("cluster: msgpack: trailing data")
	}
	return v, nil
}

type msgpackDecoder struct {
	dec      *msgpack.Decoder
	r        *bytes.Reader
	maxDepth int
}

func (m *msgpackDecoder) value(depth int) (any, error) {
	c, err := m.dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		if depth >= m.maxDepth {
			return nil, errTooDeep
		}
		n, err := m.dec.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		// Every element takes a byte at least: a length past what is
		// left is a lie, and never sizes an allocation.
		if n > m.r.Len() {
			return nil, io.ErrUnexpectedEOF
		}
		arr := make([]any, 0, n)
		for i := 0; i < n; i++ {
			v, err := m.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		if depth >= m.maxDepth {
			return nil, errTooDeep
		}
		n, err := m.dec.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		if n > m.r.Len()/2 {
			return nil, io.ErrUnexpectedEOF
		}
		o := &object{keys: make([]string, 0, n), vals: make([]any, 0, n)}
		for i := 0; i < n; i++ {
			k, err := m.value(depth + 1)
			if err != nil {
				return nil, err
			}
			var key string
			switch k := k.(type) {
			case string:
				key = k
			case int64, uint64, float64:
				key = string(appendNumber(nil, k))
			case bool:
				key = strconv.FormatBool(k)
			case nil:
				key = "null"
			default:
				return nil, fmt.Errorf("map key of type %T", k)
			}
			v, err := m.value(depth + 1)
			if err != nil {
				return nil, err
			}
			o.set(key, v)
		}
		return o, nil
	case msgpcode.IsExt(c):
		typ, n, err := m.dec.DecodeExtHeader()
		if err != nil {
			return nil, err
		}
		if n > m.r.Len() {
			return nil, io.ErrUnexpectedEOF
		}
		data := make([]byte, n)
		if err := m.dec.ReadFull(data); err != nil {
			return nil, err
		}
		return decodeExt(typ, data, c)
	case c == msgpcode.Bin8 || c == msgpcode.Bin16 || c == msgpcode.Bin32:
		n, err := m.dec.DecodeBytesLen()
		if err != nil {
			return nil, err
		}
		if n > m.r.Len() {
			return nil, io.ErrUnexpectedEOF
		}
		data := make([]byte, n)
		if err := m.dec.ReadFull(data); err != nil {
			return nil, err
		}
		return data, nil
	case msgpcode.IsString(c):
		n, err := m.dec.DecodeBytesLen()
		if err != nil {
			return nil, err
		}
		if n > m.r.Len() {
			return nil, io.ErrUnexpectedEOF
		}
		data := make([]byte, n)
		if err := m.dec.ReadFull(data); err != nil {
			return nil, err
		}
		return string(data), nil
	case c == msgpcode.Float || c == msgpcode.Double:
		return m.dec.DecodeFloat64()
	case c == msgpcode.Nil:
		return nil, m.dec.DecodeNil()
	case c == msgpcode.True || c == msgpcode.False:
		return m.dec.DecodeBool()
	case c == msgpcode.Uint64:
		n, err := m.dec.DecodeUint64()
		if err != nil {
			return nil, err
		}
		if n <= math.MaxInt64 {
			return int64(n), nil
		}
		return n, nil
	case msgpcode.IsFixedNum(c) || c == msgpcode.Uint8 || c == msgpcode.Uint16 || c == msgpcode.Uint32 ||
		c == msgpcode.Int8 || c == msgpcode.Int16 || c == msgpcode.Int32 || c == msgpcode.Int64:
		return m.dec.DecodeInt64()
	}
	return nil, fmt.Errorf("unknown code %#x", c)
}

// decodeExt reads an extension as notepack.io does: the timestamp (-1) is
// a date; type 0 is the legacy encoding of an ArrayBuffer (as binary), of
// undefined (fixext1) and of a date in milliseconds (fixext8); any other
// stays an extValue.
func decodeExt(typ int8, data []byte, code byte) (any, error) {
	switch typ {
	case -1:
		switch len(data) {
		case 4:
			return time.Unix(int64(uint32(be32(data))), 0).UTC(), nil
		case 8:
			v := be64(data)
			return time.Unix(int64(v&(1<<34-1)), int64(v>>34)).UTC(), nil
		case 12:
			return time.Unix(int64(be64(data[4:])), int64(be32(data))).UTC(), nil
		}
		return nil, fmt.Errorf("timestamp of %d bytes", len(data))
	case 0:
		switch {
		case code == msgpcode.FixExt1:
			return nil, nil
		case code == msgpcode.FixExt8:
			ms := int64(int32(be32(data)))<<32 | int64(be32(data[4:]))
			return time.UnixMilli(ms).UTC(), nil
		}
		return data, nil
	}
	return extValue{typ: typ, data: data}, nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func be64(b []byte) uint64 {
	return uint64(be32(b))<<32 | uint64(be32(b[4:]))
}
