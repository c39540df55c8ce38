package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// stdJSON is what encoding/json writes for v with HTML escaping off.
func stdJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func encodeArgs(t *testing.T, args ...any) (string, [][]byte) {
	t.Helper()
	var e Encoder
	b, atts, err := e.AppendArgs(nil, nil, args...)
	if err != nil {
		t.Fatalf("AppendArgs: %v", err)
	}
	return string(b), atts
}

type binHolder struct {
	Name  string            `json:"name"`
	Data  []byte            `json:"data"`
	More  [][]byte          `json:"more,omitempty"`
	ByKey map[string][]byte `json:"byKey,omitempty"`
	Ptr   *[]byte           `json:"ptr,omitempty"`
	Any   any               `json:"any,omitempty"`
	Fixed [2]byte           `json:"fixed"`
}

type blob []byte

func TestEncodeBinaryEverywhere(t *testing.T) {
	a, b, c, d, e := []byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e")
	got, atts := encodeArgs(t, "ev", binHolder{
		Name:  "x",
		Data:  a,
		More:  [][]byte{b, nil},
		ByKey: map[string][]byte{"z": d, "y": c},
		Ptr:   &e,
		Any:   blob("f"),
		Fixed: [2]byte{1, 2},
	}, []byte{}, []byte(nil))
	ph := func(n string) string { return `{"_placeholder":true,"num":` + n + `}` }
	want := `["ev",{"name":"x","data":` + ph("0") + `,"more":[` + ph("1") + `,null],"byKey":{"y":` + ph("2") + `,"z":` + ph("3") + `},"ptr":` + ph("4") + `,"any":` + ph("5") + `,"fixed":[1,2]},` + ph("6") + `,null]`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	wantAtts := [][]byte{a, b, c, d, e, []byte("f"), {}}
	if !reflect.DeepEqual(atts, wantAtts) {
		t.Fatalf("atts %q", atts)
	}
	if &atts[0][0] != &a[0] {
		t.Fatal("attachments are not the caller's slices")
	}
}

func TestEncodeContinuesNumbering(t *testing.T) {
	var e Encoder
	prev := [][]byte{[]byte("old")}
	b, atts, err := e.AppendArgs([]byte("x"), prev, []byte("new"))
	if err != nil || string(b) != `x[{"_placeholder":true,"num":1}]` || len(atts) != 2 {
		t.Fatalf("%s %q %v", b, atts, err)
	}
}

type failing struct{}

func (failing) MarshalJSON() ([]byte, error) { return nil, errors.New("nope") }

type badJSON struct{}

func (badJSON) MarshalJSON() ([]byte, error) { return []byte(`{"a":`), nil }

type spacey struct{}

func (spacey) MarshalJSON() ([]byte, error) { return []byte(" { \"a\" : [ 1 , \"x y\" ] }\n"), nil }

type cyc struct {
	Next *cyc
}

func TestEncodeErrors(t *testing.T) {
	loop := &cyc{}
	loop.Next = loop
	m := map[string]any{}
	m["m"] = m
	cases := []struct {
		name string
		arg  any
		code ErrorCode
	}{
		{"channel", make(chan int), ErrCodeUnsupported},
		{"func in struct", struct{ F func() }{func() {}}, ErrCodeUnsupported},
		{"complex", complex(1, 2), ErrCodeUnsupported},
		{"NaN", math.NaN(), ErrCodeUnsupported},
		{"+Inf float32", float32(math.Inf(1)), ErrCodeUnsupported},
		{"bad number", json.Number("1x"), ErrCodeUnsupported},
		{"map with struct keys", map[struct{ A int }]int{{1}: 1}, ErrCodeUnsupported},
		{"marshaler error", failing{}, ErrCodeMarshaler},
		{"marshaler invalid JSON", badJSON{}, ErrCodeMarshaler},
		{"pointer cycle", loop, ErrCodeTooDeep},
		{"map cycle", m, ErrCodeTooDeep},
		{"raw with bad JSON", Raw{JSON: []byte(`{"_placeholder":true,"num":1}`), Attachments: [][]byte{{1}}}, ErrCodeBadPlaceholder},
		{"raw with bad JSON syntax", Raw{JSON: []byte(`[1,`), Attachments: [][]byte{{1}}}, ErrCodeSyntax},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e Encoder
			dst := []byte("keep")
			atts := [][]byte{{7}}
			b, a, err := e.AppendArgs(dst, atts, []byte{1}, c.arg)
			wantCode(t, err, c.code)
			if string(b) != "keep" || len(a) != 1 {
				t.Fatalf("not restored: %q %d", b, len(a))
			}
			if _, stdErr := stdJSON(c.arg); stdErr == nil && c.code != ErrCodeBadPlaceholder && c.code != ErrCodeSyntax {
				t.Fatalf("encoding/json accepts %v", c.arg)
			}
		})
	}
	var e Encoder
	_, _, err := e.AppendArgs(nil, nil, failing{})
	if !strings.Contains(err.Error(), "nope") {
		t.Fatal(err)
	}
}

func TestEncodeMarshalers(t *testing.T) {
	got, _ := encodeArgs(t, spacey{}, json.RawMessage(`[ 1, {"b" : 2} ]`), json.RawMessage(nil), json.Number("1.5e3"), json.Number(""))
	want := `[{"a":[1,"x y"]},[1,{"b":2}],null,1.5e3,0]`
	if got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	std, _ := stdJSON([]any{spacey{}, json.RawMessage(`[ 1, {"b" : 2} ]`), json.RawMessage(nil), json.Number("1.5e3"), json.Number("")})
	if string(std) != want {
		t.Fatalf("encoding/json writes %s", std)
	}
}

func TestEncodeNoHTMLEscape(t *testing.T) {
	got, _ := encodeArgs(t, "<a href=\"x\">&amp;</a>\u2028\x00\xff")
	if want := `["<a href=\"x\">&amp;</a>\u2028\u0000\ufffd"]`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestEncodeRaw(t *testing.T) {
	// Without attachments: verbatim, even odd spacing and number forms.
	got, atts := encodeArgs(t, Raw{JSON: []byte(`{ "b":1.0e2, "a":[ ] }`)}, &Raw{JSON: []byte(`"x"`)}, Raw{}, (*Raw)(nil))
	if want := `[{ "b":1.0e2, "a":[ ] },"x",null,null]`; got != want || len(atts) != 0 {
		t.Fatalf("got %s", got)
	}
	// With attachments: renumbered after those already there, in order of
	// first reference, unreferenced ones left out, repeats shared.
	r := Raw{
		JSON:        []byte(`[{"_placeholder":true,"num":2},{"k":{"num":1,"_placeholder":true}},{"_placeholder":true,"num":2}]`),
		Attachments: [][]byte{[]byte("zero"), []byte("one"), []byte("two")},
	}
	got, atts = encodeArgs(t, []byte("first"), r, struct{ R Raw }{r})
	want := `[{"_placeholder":true,"num":0},` +
		`[{"_placeholder":true,"num":1},{"k":{"num":2,"_placeholder":true}},{"_placeholder":true,"num":1}],` +
		`{"R":[{"_placeholder":true,"num":3},{"k":{"num":4,"_placeholder":true}},{"_placeholder":true,"num":3}]}]`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !reflect.DeepEqual(atts, [][]byte{[]byte("first"), []byte("two"), []byte("one"), []byte("two"), []byte("one")}) {
		t.Fatalf("atts %q", atts)
	}
}

// addrMarsh has a pointer-receiver MarshalJSON: encoding/json calls it only
// on addressable values.
type addrMarsh struct{ X int }

func (a *addrMarsh) MarshalJSON() ([]byte, error) { return []byte(`"addr"`), nil }

type addrText struct{ X int }

func (a *addrText) MarshalText() ([]byte, error) { return []byte("text"), nil }

type addrHolder struct {
	M  addrMarsh
	T  addrText
	MS []addrMarsh
	MM map[string]addrMarsh
	MA [1]addrMarsh
	MP *addrMarsh
	MI any
}

func TestEncodeAddressability(t *testing.T) {
	h := addrHolder{
		MS: []addrMarsh{{1}},
		MM: map[string]addrMarsh{"k": {2}},
		MA: [1]addrMarsh{{3}},
		MP: &addrMarsh{4},
		MI: addrMarsh{5},
	}
	hm := map[string]addrHolder{"h": h}
	for _, v := range []any{h, &h, []addrHolder{h}, [1]addrHolder{h}, hm, &hm, map[string]*addrHolder{"p": &h}} {
		want, err := stdJSON([]any{v})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := encodeArgs(t, v)
		if got != string(want) {
			t.Errorf("%T:\ngot  %s\nwant %s", v, got, want)
		}
	}
}

type smallMsg struct {
	Room string `json:"room"`
	Text string `json:"text"`
	N    int    `json:"n"`
}

func TestEncodeZeroAllocs(t *testing.T) {
	var e Encoder
	msg := smallMsg{Room: "r1", Text: "hello", N: 3}
	data := []byte{1, 2, 3, 4}
	dst := make([]byte, 0, 256)
	atts := make([][]byte, 0, 4)
	frame := make([]byte, 0, 256)
	var err error
	// The arguments are boxed once, as they are when a caller hands its
	// ...any to the server: boxing a non-pointer value into an interface is
	// an allocation of the caller's, not of the encoding.
	args := []any{"chat", msg, data}
	run := func() {
		dst, atts, err = e.AppendArgs(dst[:0], atts[:0], args...)
		p := Packet{Type: BinaryEvent, Namespace: "/chat", Data: dst, Attachments: atts}
		frame = AppendPacket(frame[:0], &p)
	}
	run()
	if err != nil {
		t.Fatal(err)
	}
	if want := `51-/chat,["chat",{"room":"r1","text":"hello","n":3},{"_placeholder":true,"num":0}]`; string(frame) != want {
		t.Fatalf("got %s", frame)
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Fatalf("%v allocations per run, want 0", n)
	}
	// Through pointers, interfaces and a Raw with attachments too.
	raw := Raw{JSON: []byte(`[{"_placeholder":true,"num":0}]`), Attachments: [][]byte{data}}
	nested := struct {
		P *smallMsg
		I any
		L []smallMsg
	}{&msg, &msg, []smallMsg{msg, msg}}
	run2 := func() {
		// Pointers box without allocating: no need to prebuild.
		dst, atts, err = e.AppendArgs(dst[:0], atts[:0], "chat", &nested, &raw, &data, true)
	}
	run2()
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, run2); n != 0 {
		t.Fatalf("%v allocations per run, want 0", n)
	}
}

func TestEncodeMapsSorted(t *testing.T) {
	type K int
	vals := []any{
		map[string]int{"b": 1, "a": 2, "": 3, "\xff": 4, "é": 5},
		map[int]string{10: "x", 9: "y", -1: "z"},
		map[K]bool{3: true, 20: false},
		map[uint8]int{200: 1, 3: 2},
		map[textKey]int{{1, 2}: 1, {0, 9}: 2},
		map[string]map[string]int{"z": {"b": 1, "a": 2}, "a": nil},
		map[string]any{},
		map[string]int(nil),
	}
	for _, v := range vals {
		want, err := stdJSON([]any{v})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := encodeArgs(t, v); got != string(want) {
			t.Errorf("got %s want %s", got, want)
		}
	}
}

// textKey is a map key written through its MarshalText.
type textKey struct{ A, B int }

func (k textKey) MarshalText() ([]byte, error) {
	return []byte(strconv.Itoa(k.A) + "-" + strconv.Itoa(k.B)), nil
}

type recA struct {
	Name string
	Next *recB
	Blob []byte
}

type recB struct {
	Back  *recA
	Items map[string]recA
}

// TestEncoderConcurrentFirstUse builds the codecs of mutually recursive
// types from several goroutines at once (run with -race).
func TestEncoderConcurrentFirstUse(t *testing.T) {
	v := recA{Name: "a", Next: &recB{Items: map[string]recA{"x": {Name: "x", Blob: []byte{1}}}}, Blob: []byte{2}}
	done := make(chan string, 8)
	for i := 0; i < 8; i++ {
		go func() {
			var e Encoder
			b, atts, err := e.AppendArgs(nil, nil, v, &v, []recB{*v.Next})
			if err != nil || len(atts) != 5 {
				done <- "error"
				return
			}
			done <- string(b)
		}()
	}
	first := <-done
	for i := 1; i < 8; i++ {
		if got := <-done; got != first {
			t.Fatalf("%s != %s", got, first)
		}
	}
	if !strings.Contains(first, `"Items":{"x":{"Name":"x","Next":null,"Blob":{"_placeholder":true,"num":0}}}`) {
		t.Fatal(first)
	}
}
