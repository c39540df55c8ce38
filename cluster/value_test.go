package cluster

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sio-go/sio/core/sio"
)

// unhex reads a byte dump written as space-separated hex pairs.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The dumps of CLUSTER.md §2.5, made with notepack.io 3.0.1 on the
// reference's message shapes.
func TestMsgpackDumps(t *testing.T) {
	cases := []struct {
		name string
		v    any
		dump string
	}{
		{
			"classic broadcast to room1",
			[]any{"Gw1tHx",
				newObject("type", int64(2), "data", []any{"hello", int64(1)}, "nsp", "/"),
				newObject("rooms", []any{"room1"}, "except", []any{}, "flags", &object{})},
			`93 a6 47 77 31 74 48 78 83 a4 74 79 70 65 02 a4 64 61 74 61 92 a5 68 65 6c 6c 6f 01 a3 6e 73 70 a1 2f
			83 a5 72 6f 6f 6d 73 91 a5 72 6f 6f 6d 31 a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 80`,
		},
		{
			"emitter payload with two binaries",
			[]any{"emitter",
				newObject("type", int64(2), "data", []any{"payload", int64(1), "2", []any{int64(3)}, []byte("asdfasdf"), []byte{1, 2, 3, 4}}, "nsp", "/"),
				newObject("rooms", []any{}, "flags", &object{}, "except", []any{})},
			`93 a7 65 6d 69 74 74 65 72 83 a4 74 79 70 65 02 a4 64 61 74 61 96 a7 70 61 79 6c 6f 61 64 01 a1 32 91 03
			c4 08 61 73 64 66 61 73 64 66 c4 04 01 02 03 04 a3 6e 73 70 a1 2f 83 a5 72 6f 6f 6d 73 90 a5 66 6c 61 67
			73 80 a6 65 78 63 65 70 74 90`,
		},
		{
			"broadcast with acks request",
			newObject("uid", "AbC123", "requestId", "xYz789", "type", int64(7),
				"packet", newObject("type", int64(2), "data", []any{"ping"}, "nsp", "/"),
				"opts", newObject("rooms", []any{}, "except", []any{}, "flags", newObject("timeout", int64(1000)))),
			`85 a3 75 69 64 a6 41 62 43 31 32 33 a9 72 65 71 75 65 73 74 49 64 a6 78 59 7a 37 38 39 a4 74 79 70 65 07
			a6 70 61 63 6b 65 74 83 a4 74 79 70 65 02 a4 64 61 74 61 91 a4 70 69 6e 67 a3 6e 73 70 a1 2f a4 6f 70 74
			73 83 a5 72 6f 6f 6d 73 90 a6 65 78 63 65 70 74 90 a5 66 6c 61 67 73 81 a7 74 69 6d 65 6f 75 74 cd 03 e8`,
		},
		{
			"broadcast ack answer",
			newObject("type", int64(9), "requestId", "xYz789", "packet", "pong"),
			`83 a4 74 79 70 65 09 a9 72 65 71 75 65 73 74 49 64 a6 78 59 7a 37 38 39 a6 70 61 63 6b 65 74 a4 70 6f 6e 67`,
		},
		{"float", 1.5, "cb 3f f8 00 00 00 00 00 00"},
		{"2**40", int64(1 << 40), "cf 00 00 01 00 00 00 00 00"},
		{"2**40 as a JavaScript number", float64(1 << 40), "cf 00 00 01 00 00 00 00 00"},
		{"-1", int64(-1), "ff"},
		{"date", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "d6 ff 65 92 00 80"},
		{"Uint8Array", []byte{9, 9}, "c4 02 09 09"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := unhex(t, c.dump)
			got, err := encodeMsgpack(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encoded\n% x\nwant\n% x", got, want)
			}
			back, err := decodeMsgpack(want, 64)
			if err != nil {
				t.Fatal(err)
			}
			again, err := encodeMsgpack(back)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, want) {
				t.Errorf("decoded and encoded again\n% x\nwant\n% x", again, want)
			}
		})
	}
}

// The legacy extensions that notepack.io still decodes.
func TestMsgpackLegacyExtensions(t *testing.T) {
	v, err := decodeMsgpack(unhex(t, "93 d4 00 00 d7 00 00 00 01 8c c2 51 f4 00 c7 03 00 01 02 03"), 8)
	if err != nil {
		t.Fatal(err)
	}
	arr := v.([]any)
	if arr[0] != nil {
		t.Errorf("fixext1 type 0 = %v, want nil (undefined)", arr[0])
	}
	if d, ok := arr[1].(time.Time); !ok || !d.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("fixext8 type 0 = %v, want 2024-01-01", arr[1])
	}
	if b, ok := arr[2].([]byte); !ok || !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Errorf("ext8 type 0 = %v, want binary 010203", arr[2])
	}
}

// A peer's message that lies about its sizes or nests too deep is an error,
// never a panic or a large allocation.
func TestMsgpackBadInput(t *testing.T) {
	for name, dump := range map[string]string{
		"array32 of 4G elements": "dd ff ff ff ff 01",
		"map32 of 4G entries":    "df ff ff ff ff 01 01",
		"str32 past the end":     "db ff ff ff ff 61",
		"bin32 past the end":     "c6 00 10 00 00 61",
		"truncated":              "92 01",
		"trailing data":          "01 02",
		"reserved code":          "c1",
	} {
		if _, err := decodeMsgpack(unhex(t, dump), 64); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	deep := bytes.Repeat([]byte{0x91}, 65)
	deep = append(deep, 0x01)
	if _, err := decodeMsgpack(deep, 64); err == nil {
		t.Error("65 nested arrays with a limit of 64: no error")
	}
	if _, err := decodeMsgpack(deep[1:], 64); err != nil {
		t.Errorf("64 nested arrays with a limit of 64: %v", err)
	}
	if _, err := decodeMsgpack(deep[2:], 64); err != nil {
		t.Errorf("63 nested arrays with a limit of 64: %v", err)
	}
}

// An event built by core travels as msgpack and comes back as the same
// Socket.IO packet: binary stays binary, key order is kept, integers stay
// integers.
func TestEventRoundTrip(t *testing.T) {
	type payload struct {
		Z   int     `json:"z"`
		A   string  `json:"a"`
		Bin []byte  `json:"bin"`
		F   float64 `json:"f"`
	}
	p, err := sio.NewEvent("/chat", "ev", []any{payload{Z: 1, A: "x\u2028\"", Bin: []byte{0, 255}, F: 0.1}, []byte("top"), nil, true, 1e21, 1e-7, -0.0})
	if err != nil {
		t.Fatal(err)
	}
	data, err := eventData(&p)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encodeMsgpack(data)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := decodeMsgpack(enc, 64)
	if err != nil {
		t.Fatal(err)
	}
	q, err := eventPacket("/chat", dec)
	if err != nil {
		t.Fatal(err)
	}
	if q.Type != sio.BinaryEvent || len(q.Attachments) != 2 {
		t.Fatalf("type %v with %d attachments, want a binary event with 2", q.Type, len(q.Attachments))
	}
	want := `["ev",{"z":1,"a":"x` + "\u2028" + `\"","bin":{"_placeholder":true,"num":0},"f":0.1},{"_placeholder":true,"num":1},null,true,1e+21,1e-7,0]`
	if string(q.Data) != want {
		t.Errorf("data\n%s\nwant\n%s", q.Data, want)
	}
	if !bytes.Equal(q.Attachments[0], []byte{0, 255}) || string(q.Attachments[1]) != "top" {
		t.Errorf("attachments %q", q.Attachments)
	}
}

func TestParseJSON(t *testing.T) {
	for in, want := range map[string]string{
		`"a\u00e9\ud83d\ude00\/\n"`:     "\"aé😀/\\n\"",
		`"\ud800x"`:                     "\"\ufffdx\"",
		` [1, -2.5e3 ,{"b":1,"a":[]}] `: `[1,-2500,{"b":1,"a":[]}]`,
		`18446744073709551615`:          `18446744073709551615`,
		`-9223372036854775808`:          `-9223372036854775808`,
		`1e400`:                         `null`, // Infinity, as JSON.stringify writes it
	} {
		v, err := parseJSON([]byte(in), nil, 64)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		w := jsonWriter{}
		if got := string(w.append(nil, v)); got != want {
			t.Errorf("%s: wrote %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{``, `[`, `[1,]`, `{"a"}`, `{"a":1,}`, `01`, `1.`, `-`, `"\x01"`, `"\q"`, `nul`, `[1] x`, `{1:2}`} {
		if v, err := parseJSON([]byte(in), nil, 64); err == nil {
			t.Errorf("%q: no error (got %v)", in, v)
		}
	}
}

// parseJSON accepts what encoding/json accepts (within the depth limit),
// and what it reads, written back, encoding/json reads as the same value.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,"x",null,true]}`, `"\ud83d\ude00"`, `[[[[]]]]`, `-0.0e-0`, `{"_placeholder":true,"num":0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := parseJSON(in, nil, 64)
		var ref any
		refErr := json.Unmarshal(in, &ref)
		if err != nil {
			if refErr == nil && !errors.Is(err, errTooDeep) {
				t.Fatalf("%q: %v, but encoding/json accepts it", in, err)
			}
			return
		}
		var overflow *json.UnmarshalTypeError
		if errors.As(refErr, &overflow) {
			return // a number past float64, which JavaScript reads as an infinity
		}
		if refErr != nil {
			t.Fatalf("%q: accepted, but encoding/json says %v", in, refErr)
		}
		w := jsonWriter{}
		out := w.append(nil, v)
		var back any
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q: wrote invalid JSON %q: %v", in, out, err)
		}
		if !reflect.DeepEqual(normalize(ref), normalize(back)) {
			t.Fatalf("%q: read back as %#v, want %#v", in, back, ref)
		}
	})
}

// normalize makes values comparable after a JavaScript round trip:
// numbers as float64, with the infinities as nil.
func normalize(v any) any {
	switch v := v.(type) {
	case float64:
		if math.IsInf(v, 0) {
			return nil
		}
		return v
	case []any:
		for i := range v {
			v[i] = normalize(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = normalize(v[k])
		}
	}
	return v
}

// decodeMsgpack takes any bytes without panicking, and what it reads
// encodes to bytes that read back the same.
func FuzzDecodeMsgpack(f *testing.F) {
	f.Add([]byte{0x93, 0xa1, 0x61, 0x81, 0xa1, 0x62, 0xc4, 0x01, 0x00, 0xd6, 0xff, 0x65, 0x92, 0x00, 0x80})
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xc7, 0x03, 0x05, 0x01, 0x02, 0x03})
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := decodeMsgpack(in, 32)
		if err != nil {
			return
		}
		enc, err := encodeMsgpack(v)
		if err != nil {
			t.Fatalf("% x: read %#v, cannot encode it: %v", in, v, err)
		}
		v2, err := decodeMsgpack(enc, 32)
		if err != nil {
			t.Fatalf("% x: encoded again as % x, which does not decode: %v", in, enc, err)
		}
		enc2, err := encodeMsgpack(v2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("% x: not stable: % x then % x (%v)", in, enc, enc2, err)
		}
	})
}
