package sio

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func wantCode(t *testing.T, err error, code ErrorCode) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error with code %v", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("error %v has code %v, want %v", err, e.Code, code)
	}
	return e
}

// decodeAll feeds a text frame and its attachments and returns the packet.
func decodeAll(d *Decoder, text string, atts ...[]byte) (*Packet, error) {
	p, err := d.DecodeText([]byte(text))
	if err != nil {
		return nil, err
	}
	for _, a := range atts {
		if p, err = d.DecodeBinary(a); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func binaryEventWire(n int) string {
	var b strings.Builder
	b.WriteString("5" + strconv.Itoa(n) + `-["e"`)
	for i := 0; i < n; i++ {
		b.WriteString(`,{"_placeholder":true,"num":` + strconv.Itoa(i) + `}`)
	}
	b.WriteString("]")
	return b.String()
}

func TestLimit_MaxAttachments(t *testing.T) {
	const limit = 4
	for _, n := range []int{limit - 1, limit} {
		d := NewDecoder(Limits{MaxAttachments: limit})
		atts := make([][]byte, n)
		for i := range atts {
			atts[i] = []byte{byte(i)}
		}
		p, err := decodeAll(d, binaryEventWire(n), atts...)
		if err != nil || p == nil || len(p.Attachments) != n {
			t.Fatalf("%d attachments: %v %v", n, p, err)
		}
	}
	d := NewDecoder(Limits{MaxAttachments: limit})
	_, err := d.DecodeText([]byte(binaryEventWire(limit + 1)))
	e := wantCode(t, err, ErrCodeTooManyAttachments)
	if e.Limit != limit || e.Offset != 1 {
		t.Fatalf("limit %d offset %d", e.Limit, e.Offset)
	}
	if d.Pending() {
		t.Fatal("pending after error")
	}
	// A huge count does not overflow.
	_, err = d.DecodeText([]byte("5999999999999999999999999-[\"e\"]"))
	wantCode(t, err, ErrCodeTooManyAttachments)
	// The default.
	var def Decoder
	_, err = def.DecodeText([]byte(binaryEventWire(DefaultMaxAttachments + 1)))
	wantCode(t, err, ErrCodeTooManyAttachments)
	if _, err = def.DecodeText([]byte(binaryEventWire(DefaultMaxAttachments))); err != nil {
		t.Fatal(err)
	}
}

func TestLimit_MaxAttachmentBytes(t *testing.T) {
	const limit = 100
	for _, n := range []int{limit - 1, limit} {
		d := NewDecoder(Limits{MaxAttachmentBytes: limit})
		p, err := decodeAll(d, binaryEventWire(1), make([]byte, n))
		if err != nil || p == nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		// Split over two attachments, the total counts.
		p, err = decodeAll(d, binaryEventWire(2), make([]byte, n/2), make([]byte, n-n/2))
		if err != nil || p == nil {
			t.Fatalf("%d bytes in two: %v", n, err)
		}
	}
	d := NewDecoder(Limits{MaxAttachmentBytes: limit})
	_, err := decodeAll(d, binaryEventWire(1), make([]byte, limit+1))
	e := wantCode(t, err, ErrCodeAttachmentsTooLarge)
	if e.Limit != limit || e.Offset != limit {
		t.Fatalf("limit %d offset %d", e.Limit, e.Offset)
	}
	if d.Pending() {
		t.Fatal("pending after error")
	}
	_, err = decodeAll(d, binaryEventWire(2), make([]byte, 60), make([]byte, limit+1-60))
	e = wantCode(t, err, ErrCodeAttachmentsTooLarge)
	if e.Offset != limit-60 {
		t.Fatalf("offset %d", e.Offset)
	}
}

// nested returns an event whose JSON nests depth levels, the top-level
// array being the first.
func nested(depth int) string {
	if depth == 1 {
		return `2["e"]`
	}
	return `2["e",` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + "]"
}

// nestedObjects nests objects and arrays alternately, depth odd and >= 3.
func nestedObjects(depth int) string {
	n := (depth - 1) / 2
	return `2["e",` + strings.Repeat(`{"a":[`, n) + strings.Repeat("]}", n) + "]"
}

func TestLimit_MaxDepth(t *testing.T) {
	const limit = 9
	d := NewDecoder(Limits{MaxDepth: limit})
	for _, n := range []int{limit - 1, limit} {
		if _, err := d.DecodeText([]byte(nested(n))); err != nil {
			t.Fatalf("depth %d: %v", n, err)
		}
	}
	if _, err := d.DecodeText([]byte(nestedObjects(limit))); err != nil {
		t.Fatalf("object depth %d: %v", limit, err)
	}
	_, err := d.DecodeText([]byte(nested(limit + 1)))
	e := wantCode(t, err, ErrCodeTooDeep)
	if e.Limit != limit || e.Offset != 6+limit-1 {
		t.Fatalf("limit %d offset %d", e.Limit, e.Offset)
	}
	_, err = d.DecodeText([]byte(nestedObjects(limit + 2)))
	wantCode(t, err, ErrCodeTooDeep)
	// A placeholder object counts as a level.
	ph := `5` + `1-["e",` + strings.Repeat("[", limit-2) + `{"_placeholder":true,"num":0}` + strings.Repeat("]", limit-2) + "]"
	if _, err := d.DecodeText([]byte(ph)); err != nil {
		t.Fatal(err)
	}
	d.Reset()
	ph = `5` + `1-["e",` + strings.Repeat("[", limit-1) + `{"_placeholder":true,"num":0}` + strings.Repeat("]", limit-1) + "]"
	_, err = d.DecodeText([]byte(ph))
	wantCode(t, err, ErrCodeTooDeep)
	// The default.
	var def Decoder
	if _, err := def.DecodeText([]byte(nested(DefaultMaxDepth))); err != nil {
		t.Fatal(err)
	}
	_, err = def.DecodeText([]byte(nested(DefaultMaxDepth + 1)))
	wantCode(t, err, ErrCodeTooDeep)
}

func frameOfSize(n int) string {
	s := `2["e","` // 7 bytes, closing `"]` 2 bytes
	return s + strings.Repeat("x", n-len(s)-2) + `"]`
}

func TestLimit_MaxPacketBytes(t *testing.T) {
	const limit = 64
	d := NewDecoder(Limits{MaxPacketBytes: limit})
	for _, n := range []int{limit - 1, limit} {
		f := frameOfSize(n)
		if len(f) != n {
			t.Fatalf("frame size %d", len(f))
		}
		if _, err := d.DecodeText([]byte(f)); err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
	}
	_, err := d.DecodeText([]byte(frameOfSize(limit + 1)))
	e := wantCode(t, err, ErrCodeTooLarge)
	if e.Limit != limit {
		t.Fatalf("limit %d", e.Limit)
	}
	var def Decoder
	if _, err := def.DecodeText([]byte(frameOfSize(DefaultMaxPacketBytes))); err != nil {
		t.Fatal(err)
	}
	_, err = def.DecodeText([]byte(frameOfSize(DefaultMaxPacketBytes + 1)))
	wantCode(t, err, ErrCodeTooLarge)
}

func TestDecodeBadInput(t *testing.T) {
	cases := []struct {
		name   string
		wire   string
		code   ErrorCode
		offset int
	}{
		{"empty frame", ``, ErrCodeSyntax, 0},
		{"unknown type 7", `7["a"]`, ErrCodeUnknownType, 0},
		{"unknown type letter", `x`, ErrCodeUnknownType, 0},
		{"binary without count", `5-["a"]`, ErrCodeSyntax, 1},
		{"binary without dash", `51["a"]`, ErrCodeSyntax, 2},
		{"binary count only", `51`, ErrCodeSyntax, 2},
		{"namespace control char", "2/ad\x01min,[\"a\"]", ErrCodeBadNamespace, 4},
		{"namespace DEL", "0/ad\x7fmin,", ErrCodeBadNamespace, 4},
		{"namespace invalid utf8", "0/ad\xffmin,", ErrCodeBadNamespace, 4},
		{"ack id 2^53", `29007199254740992["a"]`, ErrCodeBadAckID, 1},
		{"ack id 17 digits", `200000000000000001["a"]`, ErrCodeBadAckID, 1},
		{"ack id huge", `299999999999999999999999999["a"]`, ErrCodeBadAckID, 1},
		{"bad JSON unterminated array", `2["a"`, ErrCodeSyntax, 5},
		{"bad JSON trailing comma", `2["a",]`, ErrCodeSyntax, 6},
		{"bad JSON missing value", `0{"a":}`, ErrCodeSyntax, 6},
		{"bad JSON trailing data", `2["a"]x`, ErrCodeSyntax, 6},
		{"bad JSON two values", `2["a"]["b"]`, ErrCodeSyntax, 6},
		{"bad JSON control char in string", "2[\"a\nb\"]", ErrCodeSyntax, 4},
		{"bad JSON escape", `2["a\x"]`, ErrCodeSyntax, 5},
		{"bad JSON unicode escape", `2["a\u12"]`, ErrCodeSyntax, 8},
		{"bad JSON number", `2["a",01]`, ErrCodeSyntax, 7},
		{"bad JSON number dot", `2["a",1.]`, ErrCodeSyntax, 8},
		{"bad JSON literal", `2["a",tru]`, ErrCodeSyntax, 9},
		{"connect with array", `0["a"]`, ErrCodeBadPayload, 1},
		{"connect with string", `0"a"`, ErrCodeBadPayload, 1},
		{"disconnect with payload", `1{}`, ErrCodeBadPayload, 1},
		{"connect error without payload", `4`, ErrCodeBadPayload, 1},
		{"connect error with array", `4["a"]`, ErrCodeBadPayload, 1},
		{"connect error with ack id only", `4/admin,12`, ErrCodeBadPayload, 10},
		{"connect error with bool", `4/admin,true`, ErrCodeBadPayload, 8},
		{"event without payload", `2`, ErrCodeBadPayload, 1},
		{"event with object", `2{}`, ErrCodeBadPayload, 1},
		{"event with empty array", `2[]`, ErrCodeBadPayload, 1},
		{"event name bool", `2[true]`, ErrCodeBadPayload, 2},
		{"event name object", `2[{}]`, ErrCodeBadPayload, 2},
		{"event name null", `2[null]`, ErrCodeBadPayload, 2},
		{"reserved event connect", `2["connect"]`, ErrCodeBadPayload, 2},
		{"reserved event connect_error", `2/admin,["connect_error",1]`, ErrCodeBadPayload, 9},
		{"reserved event disconnect", `2["disconnect"]`, ErrCodeBadPayload, 2},
		{"reserved event disconnecting", `2["disconnecting"]`, ErrCodeBadPayload, 2},
		{"reserved event newListener", `2["newListener"]`, ErrCodeBadPayload, 2},
		{"reserved event removeListener", `21["removeListener"]`, ErrCodeBadPayload, 3},
		{"reserved event escaped", `2["\u0063onnect"]`, ErrCodeBadPayload, 2},
		{"reserved binary event", `50-["connect"]`, ErrCodeBadPayload, 4},
		{"ack without payload", `31`, ErrCodeBadPayload, 2},
		{"ack with object", `31{}`, ErrCodeBadPayload, 2},
		{"binary ack with string", `60-1"a"`, ErrCodeBadPayload, 4},
		{"placeholder num out of range", `51-["a",{"_placeholder":true,"num":1}]`, ErrCodeBadPlaceholder, 8},
		{"placeholder num negative", `51-["a",{"_placeholder":true,"num":-1}]`, ErrCodeBadPlaceholder, 8},
		{"placeholder num fraction", `51-["a",{"_placeholder":true,"num":0.0}]`, ErrCodeBadPlaceholder, 8},
		{"placeholder num exponent", `51-["a",{"_placeholder":true,"num":0e0}]`, ErrCodeBadPlaceholder, 8},
		{"placeholder num string", `51-["a",{"_placeholder":true,"num":"0"}]`, ErrCodeBadPlaceholder, 8},
		{"placeholder without num", `51-["a",{"_placeholder":true}]`, ErrCodeBadPlaceholder, 8},
		{"placeholder extra key", `51-["a",{"_placeholder":true,"num":0,"x":1}]`, ErrCodeBadPlaceholder, 8},
		{"placeholder nested deep", `51-["a",{"x":[1,{"_placeholder":true,"num":3}]}]`, ErrCodeBadPlaceholder, 16},
		{"placeholder huge num", `51-["a",{"_placeholder":true,"num":99999999999999999999999}]`, ErrCodeBadPlaceholder, 8},
		{"placeholder in non-binary event", `2["a",{"_placeholder":true,"num":0}]`, ErrCodeBadPlaceholder, 6},
		{"placeholder in connect", `0{"_placeholder":true,"num":0}`, ErrCodeBadPlaceholder, 1},
		{"placeholder referenced twice", `52-["a",{"_placeholder":true,"num":1},[{"_placeholder":true,"num":1}]]`, ErrCodeBadPlaceholder, 39},
		{"placeholder escaped key", `51-["a",{"\u005fplaceholder":true,"num":5}]`, ErrCodeBadPlaceholder, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d Decoder
			p, err := d.DecodeText([]byte(c.wire))
			if p != nil {
				t.Fatalf("got packet %+v", p)
			}
			e := wantCode(t, err, c.code)
			if e.Offset != c.offset {
				t.Fatalf("offset %d, want %d (%v)", e.Offset, c.offset, e)
			}
			if d.Pending() {
				t.Fatal("pending after error")
			}
		})
	}
}

func TestDecodeAcceptsNearMisses(t *testing.T) {
	ok := []string{
		`29007199254740991["a"]`,                      // ack id 2^53-1
		`20000000000000001["a"]`,                      // 16 digits
		`2["connected"]`,                              // not reserved
		`2["Connect"]`,                                // case matters
		`2[-1.5e3,{"a":[]}]`,                          // numeric name
		`2["a",{"_placeholder":false,"num":7}]`,       // not a placeholder
		`2["a",{"_placeholder":"true","num":7}]`,      // not a placeholder
		`2["a",{"_placeholder":1}]`,                   // not a placeholder
		` 2`[1:] + ` ["a" , 1 ] `,                     // JSON whitespace
		`3[]`,                                         // empty ack
		`0/a,b`[:4] + `{}`,                            // namespace then object
		`4/x,{"message":"m","data":null}`,             // connect error with data
		`51-["a",{"num":0,"_placeholder":true}]`,      // key order free
		"2[\"\xff\xfe\"]",                             // invalid UTF-8 inside JSON strings, as encoding/json
		`2/` + strings.Repeat("n", 100) + `,["a"]`,    // long namespace
		`2/ünïcödé,["a"]`,                             // UTF-8 namespace
		`2["a","\u2028\ud83d\ude00"]`,                 // escapes
		`2["` + strings.Repeat(`\u0063`, 20) + `"]`,   // long escaped name
		`51-["a",{"_placeholder":true,"\u006eum":0}]`, // escaped num key
		`52-["a",{"_placeholder":true,"num":1},{"b":{"_placeholder":true,"num":0}}]`, // any order, nested
	}
	for _, w := range ok {
		var d Decoder
		p, err := d.DecodeText([]byte(w))
		if err != nil {
			t.Errorf("%q: %v", w, err)
			continue
		}
		if p == nil && !d.Pending() {
			t.Errorf("%q: no packet, not pending", w)
		}
	}
}

func TestDecodeStateErrors(t *testing.T) {
	var d Decoder
	_, err := d.DecodeBinary([]byte{1})
	wantCode(t, err, ErrCodeUnexpectedBinary)

	p, err := d.DecodeText([]byte(binaryEventWire(2)))
	if p != nil || err != nil || !d.Pending() {
		t.Fatalf("%v %v %v", p, err, d.Pending())
	}
	if p, err = d.DecodeBinary([]byte{1}); p != nil || err != nil {
		t.Fatal(p, err)
	}
	_, err = d.DecodeText([]byte(`2["a"]`))
	wantCode(t, err, ErrCodeUnexpectedText)
	if d.Pending() {
		t.Fatal("pending after error")
	}
	// The decoder goes on after an error.
	if p, err = d.DecodeText([]byte(`2["a"]`)); err != nil || p == nil {
		t.Fatal(p, err)
	}
	// Reset drops the pending packet.
	if _, err = d.DecodeText([]byte(binaryEventWire(1))); err != nil || !d.Pending() {
		t.Fatal(err)
	}
	d.Reset()
	_, err = d.DecodeBinary([]byte{1})
	wantCode(t, err, ErrCodeUnexpectedBinary)
}

func TestDecoderOwnership(t *testing.T) {
	var d Decoder
	frame := []byte(`51-/x,["a",{"_placeholder":true,"num":0}]`)
	att := []byte{9, 9}
	d.DecodeText(frame)
	p, err := d.DecodeBinary(att)
	if err != nil {
		t.Fatal(err)
	}
	if &p.Data[0] != &frame[6] || &p.Attachments[0][0] != &att[0] {
		t.Fatal("packet does not alias its frames as documented")
	}
	// The namespace string is reused for equal namespaces.
	p2, _ := d.DecodeText([]byte(`2/x,["a"]`))
	if p2.Namespace != "/x" {
		t.Fatal(p2.Namespace)
	}
}

func TestErrorMessage(t *testing.T) {
	d := NewDecoder(Limits{MaxAttachments: 2})
	_, err := d.DecodeText([]byte(binaryEventWire(3)))
	want := `sio: too many attachments: attachment count 3 at offset 1 (limit 2)`
	if err.Error() != want {
		t.Fatalf("%q, want %q", err.Error(), want)
	}
	_, err = d.DecodeText([]byte(`2["a",x]`))
	if !strings.Contains(err.Error(), "syntax error") || !strings.Contains(err.Error(), "offset 6") || !strings.Contains(err.Error(), `'x'`) {
		t.Fatal(err)
	}
	if ErrorCode(200).String() != "ErrorCode(200)" {
		t.Fatal(ErrorCode(200).String())
	}
	cause := errors.New("boom")
	e := &Error{Code: ErrCodeMarshaler, Offset: -1, Msg: "m", Err: cause}
	if !errors.Is(e, cause) || e.Error() != "sio: marshaler failed: m: boom" {
		t.Fatal(e.Error())
	}
}

// FuzzDecoder checks that no input panics, and that an accepted packet
// survives AppendPacket and a second decode.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{`0`, `0/admin,{"token":"123"}`, `2/admin,456["project:delete",123]`,
		`51-["baz",{"_placeholder":true,"num":0}]`, `61-/admin,456[{"_placeholder":true,"num":0}]`,
		`4"x"`, `212["foo"]`, `2["a",{"b":[1,2,{"c":null}]}]`, `3/a,1[true,false,1e5]`} {
		f.Add([]byte(s), []byte{1, 2, 3})
	}
	f.Fuzz(func(t *testing.T, frame, att []byte) {
		d := NewDecoder(Limits{MaxPacketBytes: 4096, MaxDepth: 16})
		p, err := d.DecodeText(frame)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for p == nil {
			if p, err = d.DecodeBinary(att); err != nil {
				t.Fatal(err)
			}
		}
		out := AppendPacket(nil, p)
		var d2 Decoder
		q, err := decodeAll(&d2, string(out), p.Attachments...)
		if err != nil || !packetsEqual(p, q) {
			t.Fatalf("re-decode of %q: %v %+v", out, err, q)
		}
	})
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func TestDecodeManyAttachmentsUnique(t *testing.T) {
	d := NewDecoder(Limits{MaxAttachments: 100})
	atts := make([][]byte, 100)
	for i := range atts {
		atts[i] = []byte{byte(i)}
	}
	p, err := decodeAll(d, binaryEventWire(100), atts...)
	if err != nil || p == nil || len(p.Attachments) != 100 {
		t.Fatal(err)
	}
	dup := strings.Replace(binaryEventWire(100), `"num":71}`, `"num":70}`, 1)
	_, err = d.DecodeText([]byte(dup))
	wantCode(t, err, ErrCodeBadPlaceholder)
}
