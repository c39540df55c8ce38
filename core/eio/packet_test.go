package eio

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// text and bin build packets for the tables.
func text(t PacketType, data string) Packet {
	p := Packet{Type: t}
	if data != "" {
		p.Data = []byte(data)
	}
	return p
}

func bin(data ...byte) Packet { return Packet{Type: Message, Binary: true, Data: data} }

// samePacket compares packets, a nil and an empty Data being the same.
func samePacket(a, b Packet) bool {
	return a.Type == b.Type && a.Binary == b.Binary && bytes.Equal(a.Data, b.Data)
}

func samePackets(a, b []Packet) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !samePacket(a[i], b[i]) {
			return false
		}
	}
	return true
}

func decodeAll(body []byte, lim Limits) ([]Packet, error) {
	var got []Packet
	err := DecodePayload(body, lim, func(p Packet) error {
		got = append(got, p)
		return nil
	})
	return got, err
}

// asError returns err as an *Error with the wanted code, or fails t.
func asError(t testing.TB, err error, code ErrorCode) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if e.Code != code {
		t.Fatalf("error code %v, want %v (%v)", e.Code, code, err)
	}
	return e
}

func TestSpec_PacketEncoding_Polling(t *testing.T) {
	tests := []struct {
		name string
		body string
		pkts []Packet
	}{
		{"spec example: message, ping, message", "4hello\x1e2\x1e4world",
			[]Packet{text(Message, "hello"), text(Ping, ""), text(Message, "world")}},
		{"spec example: message and binary", "4hello\x1ebAQIDBA==",
			[]Packet{text(Message, "hello"), bin(1, 2, 3, 4)}},
		{"open", `0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
			[]Packet{text(Open, `{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)}},
		{"close", "1", []Packet{text(Close, "")}},
		{"ping", "2", []Packet{text(Ping, "")}},
		{"pong", "3", []Packet{text(Pong, "")}},
		{"probe ping", "2probe", []Packet{text(Ping, "probe")}},
		{"probe pong", "3probe", []Packet{text(Pong, "probe")}},
		{"upgrade", "5", []Packet{text(Upgrade, "")}},
		{"noop", "6", []Packet{text(Noop, "")}},
		{"empty message", "4", []Packet{text(Message, "")}},
		{"empty binary", "b", []Packet{bin()}},
		{"utf-8 message", "4€ é 😀", []Packet{text(Message, "€ é 😀")}},
		{"message containing b and digits", "4b0\x1e41", []Packet{text(Message, "b0"), text(Message, "1")}},
		{"binary with padding variants", "bAQ==\x1ebAQI=\x1ebAQID",
			[]Packet{bin(1), bin(1, 2), bin(1, 2, 3)}},
		{"every type", "0\x1e1\x1e2\x1e3\x1e4\x1e5\x1e6",
			[]Packet{text(Open, ""), text(Close, ""), text(Ping, ""), text(Pong, ""), text(Message, ""), text(Upgrade, ""), text(Noop, "")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendPayload(nil, tt.pkts)
			if string(got) != tt.body {
				t.Errorf("AppendPayload = %q, want %q", got, tt.body)
			}
			if n := PayloadLen(tt.pkts); n != len(tt.body) {
				t.Errorf("PayloadLen = %d, want %d", n, len(tt.body))
			}
			prefix := []byte("xyz")
			if got := AppendPayload(prefix, tt.pkts); string(got) != "xyz"+tt.body {
				t.Errorf("AppendPayload after a prefix = %q", got)
			}
			dec, err := decodeAll([]byte(tt.body), Limits{})
			if err != nil {
				t.Fatalf("DecodePayload: %v", err)
			}
			if !samePackets(dec, tt.pkts) {
				t.Errorf("DecodePayload = %+v, want %+v", dec, tt.pkts)
			}
		})
	}
}

func TestSpec_PacketEncoding_WebSocket(t *testing.T) {
	tests := []struct {
		name   string
		frame  string
		binary bool
		pkt    Packet
	}{
		{"spec example: message", "4hello", false, text(Message, "hello")},
		{"binary message is raw bytes", "\x01\x02\x03\x04", true, bin(1, 2, 3, 4)},
		{"binary message that looks like text", "4hello", true, bin('4', 'h', 'e', 'l', 'l', 'o')},
		{"empty binary message", "", true, bin()},
		{"open", `0{"sid":"x"}`, false, text(Open, `{"sid":"x"}`)},
		{"close", "1", false, text(Close, "")},
		{"ping", "2", false, text(Ping, "")},
		{"pong", "3", false, text(Pong, "")},
		{"probe ping", "2probe", false, text(Ping, "probe")},
		{"probe pong", "3probe", false, text(Pong, "probe")},
		{"upgrade", "5", false, text(Upgrade, "")},
		{"noop", "6", false, text(Noop, "")},
		{"message with a record separator", "4a\x1eb", false, text(Message, "a\x1eb")},
		{"utf-8 message", "4€", false, text(Message, "€")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, binary := AppendFrame(nil, tt.pkt)
			if string(got) != tt.frame || binary != tt.binary {
				t.Errorf("AppendFrame = %q binary=%v, want %q binary=%v", got, binary, tt.frame, tt.binary)
			}
			p, err := DecodeFrame([]byte(tt.frame), tt.binary)
			if err != nil {
				t.Fatalf("DecodeFrame: %v", err)
			}
			if !samePacket(p, tt.pkt) {
				t.Errorf("DecodeFrame = %+v, want %+v", p, tt.pkt)
			}
		})
	}
}

func TestDecodeFrame_BadInput(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		code  ErrorCode
	}{
		{"empty text frame", "", ErrEmptyPacket},
		{"type 7", "7", ErrUnknownType},
		{"type 9 with data", "9hello", ErrUnknownType},
		{"letter", "hello", ErrUnknownType},
		{"b is not a type on websocket", "bAQID", ErrUnknownType},
		{"separator", "\x1e", ErrUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeFrame([]byte(tt.frame), false)
			e := asError(t, err, tt.code)
			if e.Offset != 0 {
				t.Errorf("offset %d, want 0", e.Offset)
			}
		})
	}
}

func TestDecodePayload_BadInput(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		code   ErrorCode
		offset int
		before int // packets delivered before the error
	}{
		{"empty payload", "", ErrEmptyPacket, 0, 0},
		{"lone separator", "\x1e", ErrEmptyPacket, 0, 0},
		{"empty packet between separators", "4a\x1e\x1e4b", ErrEmptyPacket, 3, 1},
		{"trailing separator", "4a\x1e", ErrEmptyPacket, 3, 1},
		{"leading separator", "\x1e4a", ErrEmptyPacket, 0, 0},
		{"unknown type digit", "4a\x1e7", ErrUnknownType, 3, 1},
		{"unknown type letter", "x", ErrUnknownType, 0, 0},
		{"bad base64 character", "4a\x1eb!!!!", ErrBadBase64, 4, 1},
		{"bad base64 length", "bAQIDB", ErrBadBase64, 1, 0},
		{"bad base64 padding", "bA===", ErrBadBase64, 1, 0},
		{"url base64 alphabet", "b-_8=", ErrBadBase64, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeAll([]byte(tt.body), Limits{})
			e := asError(t, err, tt.code)
			if e.Offset != tt.offset {
				t.Errorf("offset %d, want %d", e.Offset, tt.offset)
			}
			if len(got) != tt.before {
				t.Errorf("%d packets before the error, want %d", len(got), tt.before)
			}
		})
	}
}

func TestDecodePayload_CallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := DecodePayload([]byte("4a\x1e4b\x1e4c"), Limits{}, func(p Packet) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("err=%v after %d packets, want the callback's error after 2", err, n)
	}
}

func TestDecodePayload_BinaryIsCopied(t *testing.T) {
	body := []byte("bAQIDBA==\x1e4hi")
	pkts, err := decodeAll(body, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'z'
	}
	if !bytes.Equal(pkts[0].Data, []byte{1, 2, 3, 4}) {
		t.Errorf("binary data changed with the body: %v", pkts[0].Data)
	}
	if string(pkts[1].Data) != "zz" {
		t.Errorf("text data is documented to alias the body, got %q", pkts[1].Data)
	}
}

func TestLimits_MaxPayload_Polling(t *testing.T) {
	const max = 64
	for _, size := range []int{max - 1, max, max + 1} {
		body := append([]byte{'4'}, bytes.Repeat([]byte{'x'}, size-1)...)
		_, err := decodeAll(body, Limits{MaxPayload: max})
		if size <= max {
			if err != nil {
				t.Errorf("size %d: %v", size, err)
			}
			continue
		}
		e := asError(t, err, ErrPayloadTooLarge)
		if e.Limit != max {
			t.Errorf("size %d: limit %d, want %d", size, e.Limit, max)
		}
	}
	// The default applies to the zero Limits.
	body := append([]byte{'4'}, bytes.Repeat([]byte{'x'}, DefaultMaxPayload)...)
	_, err := decodeAll(body, Limits{})
	asError(t, err, ErrPayloadTooLarge)
	_, err = decodeAll(body[:DefaultMaxPayload], Limits{})
	if err != nil {
		t.Errorf("default limit: %v", err)
	}
}

func TestLimits_MaxPacketsPerPayload(t *testing.T) {
	const max = 5
	for _, n := range []int{max - 1, max, max + 1} {
		pkts := make([]Packet, n)
		for i := range pkts {
			pkts[i] = text(Message, "m")
		}
		got, err := decodeAll(AppendPayload(nil, pkts), Limits{MaxPacketsPerPayload: max})
		if n <= max {
			if err != nil || len(got) != n {
				t.Errorf("%d packets: %d decoded, %v", n, len(got), err)
			}
			continue
		}
		e := asError(t, err, ErrTooManyPackets)
		if e.Limit != max || e.Offset != 3*max {
			t.Errorf("%d packets: limit %d offset %d, want %d and %d", n, e.Limit, e.Offset, max, 3*max)
		}
		if len(got) != max {
			t.Errorf("%d packets: %d delivered before the error, want %d", n, len(got), max)
		}
	}
}

func TestError_Strings(t *testing.T) {
	e := &Error{Code: ErrPayloadTooLarge, Offset: 7, Limit: 5, Detail: "frame"}
	if got, want := e.Error(), "eio: payload too large: frame at offset 7 (limit 5)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := ErrorCode(99).String(); got != "ErrorCode(99)" {
		t.Errorf("unknown code: %q", got)
	}
	if got := ErrorCode(0).String(); got != "ErrorCode(0)" {
		t.Errorf("zero code: %q", got)
	}
	for c := ErrEmptyPacket; c <= ErrBadHandshake; c++ {
		if strings.HasPrefix(c.String(), "ErrorCode(") {
			t.Errorf("code %d has no text", c)
		}
	}
	if got := PacketType(9).String(); got != "PacketType(9)" {
		t.Errorf("PacketType(9) = %q", got)
	}
	if Message.String() != "message" || Noop.String() != "noop" {
		t.Errorf("packet type names")
	}
	if ReasonPingTimeout.String() != "ping timeout" || ReasonTransportClose.String() != "transport close" ||
		ReasonParseError.String() != "parse error" || Reason(200).String() != "unknown" {
		t.Errorf("reason strings")
	}
	if tr, ok := ParseTransport("websocket"); !ok || tr != WebSocket || tr.String() != "websocket" {
		t.Errorf("ParseTransport(websocket)")
	}
	if tr, ok := ParseTransport("polling"); !ok || tr != Polling || tr.String() != "polling" {
		t.Errorf("ParseTransport(polling)")
	}
	if _, ok := ParseTransport("flashsocket"); ok {
		t.Errorf("ParseTransport(flashsocket)")
	}
}

// genPacket draws any packet that a payload can carry: text data has no
// record separator (the protocol cannot carry one), binary data is arbitrary.
func genPacket(withSeparator bool) *rapid.Generator[Packet] {
	return rapid.Custom(func(t *rapid.T) Packet {
		if rapid.Bool().Draw(t, "binary") {
			return Packet{Type: Message, Binary: true, Data: rapid.SliceOf(rapid.Byte()).Draw(t, "bytes")}
		}
		typ := PacketType(rapid.IntRange(0, 6).Draw(t, "type"))
		var s string
		if withSeparator {
			s = rapid.String().Draw(t, "text")
		} else {
			s = rapid.StringOf(rapid.Rune().Filter(func(r rune) bool { return r != Separator })).Draw(t, "text")
		}
		return Packet{Type: typ, Data: []byte(s)}
	})
}

func TestProp_PayloadRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		pkts := rapid.SliceOfN(genPacket(false), 1, 20).Draw(t, "pkts")
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "prefix")
		body := AppendPayload(bytes.Clone(prefix), pkts)
		if !bytes.Equal(body[:len(prefix)], prefix) {
			t.Fatalf("prefix overwritten")
		}
		body = body[len(prefix):]
		if n := PayloadLen(pkts); n != len(body) {
			t.Fatalf("PayloadLen = %d, len(AppendPayload) = %d", n, len(body))
		}
		if !utf8.Valid(body) {
			t.Fatalf("payload of valid UTF-8 packets is not UTF-8: %q", body)
		}
		got, err := decodeAll(body, Limits{MaxPayload: len(body), MaxPacketsPerPayload: len(pkts)})
		if err != nil {
			t.Fatalf("DecodePayload(%q): %v", body, err)
		}
		if !samePackets(got, pkts) {
			t.Fatalf("round trip: got %+v, want %+v", got, pkts)
		}
	})
}

func TestProp_FrameRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPacket(true).Draw(t, "p")
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "prefix")
		frame, binary := AppendFrame(bytes.Clone(prefix), p)
		if !bytes.Equal(frame[:len(prefix)], prefix) {
			t.Fatalf("prefix overwritten")
		}
		frame = frame[len(prefix):]
		if binary != (p.Type == Message && p.Binary) {
			t.Fatalf("binary = %v for %+v", binary, p)
		}
		got, err := DecodeFrame(frame, binary)
		if err != nil {
			t.Fatalf("DecodeFrame(%q): %v", frame, err)
		}
		if !samePacket(got, p) {
			t.Fatalf("round trip: got %+v, want %+v", got, p)
		}
	})
}

// Whatever the input, the decoders return a typed error or packets, and
// never panic.
func TestProp_DecodeArbitrary(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		body := rapid.SliceOfN(rapid.SampledFrom([]byte("0123456789b\x1eAQID=!x")), 0, 40).Draw(t, "body")
		_, err := decodeAll(body, Limits{MaxPayload: 32, MaxPacketsPerPayload: 4})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %v", err)
			}
			if e.Offset < 0 || e.Offset > len(body) {
				t.Fatalf("offset %d out of the body (%d bytes)", e.Offset, len(body))
			}
		}
		_, err = DecodeFrame(body, false)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %v", err)
			}
		}
	})
}

// mixed100 is 100 text messages of 40 bytes with a few control packets.
func mixed100() []Packet {
	data := []byte(strings.Repeat("0123456789", 4))
	pkts := make([]Packet, 100)
	for i := range pkts {
		switch i % 25 {
		case 7:
			pkts[i] = Packet{Type: Ping}
		case 19:
			pkts[i] = Packet{Type: Message, Binary: true, Data: data}
		default:
			pkts[i] = Packet{Type: Message, Data: data}
		}
	}
	return pkts
}

func BenchmarkAppendPayload100(b *testing.B) {
	pkts := mixed100()
	buf := make([]byte, 0, PayloadLen(pkts))
	b.ReportAllocs()
	b.SetBytes(int64(PayloadLen(pkts)))
	for b.Loop() {
		buf = AppendPayload(buf[:0], pkts)
	}
}

func BenchmarkDecodePayload100(b *testing.B) {
	body := AppendPayload(nil, mixed100())
	n := 0
	fn := func(Packet) error { n++; return nil }
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := DecodePayload(body, Limits{}, fn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	p := Packet{Type: Message, Data: []byte(strings.Repeat("x", 40))}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendFrame(buf[:0], p)
	}
}

func BenchmarkDecodeFrame(b *testing.B) {
	frame := []byte("4" + strings.Repeat("x", 40))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeFrame(frame, false); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAllocs_Codecs(t *testing.T) {
	pkts := mixed100()
	buf := make([]byte, 0, PayloadLen(pkts))
	if n := testing.AllocsPerRun(100, func() { buf = AppendPayload(buf[:0], pkts) }); n != 0 {
		t.Errorf("AppendPayload into a reused buffer: %v allocs", n)
	}
	frame := make([]byte, 0, 64)
	p := Packet{Type: Message, Data: []byte("hello")}
	if n := testing.AllocsPerRun(100, func() { frame, _ = AppendFrame(frame[:0], p) }); n != 0 {
		t.Errorf("AppendFrame into a reused buffer: %v allocs", n)
	}
	body := AppendPayload(nil, []Packet{p, p, {Type: Ping}})
	fn := func(Packet) error { return nil }
	if n := testing.AllocsPerRun(100, func() { _ = DecodePayload(body, Limits{}, fn) }); n != 0 {
		t.Errorf("DecodePayload of text packets: %v allocs", n)
	}
}
