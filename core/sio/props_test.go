package sio

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// ---- JSON generation ----

// phGen hands out placeholders: random numbers below natt, or, with seq,
// consecutive numbers in text order (each attachment referenced once).
type phGen struct {
	natt int
	seq  bool
	next int
	used map[int]bool
}

func (g *phGen) available() bool {
	if g.seq {
		return g.next < g.natt
	}
	return len(g.used) < g.natt
}

// take returns an attachment number not used yet.
func (g *phGen) take(t *rapid.T) int {
	if g.seq {
		g.next++
		return g.next - 1
	}
	if g.used == nil {
		g.used = map[int]bool{}
	}
	var free []int
	for i := 0; i < g.natt; i++ {
		if !g.used[i] {
			free = append(free, i)
		}
	}
	n := rapid.SampledFrom(free).Draw(t, "num")
	g.used[n] = true
	return n
}

var numberLits = []string{"0", "-0", "1", "-1", "42", "123456789", "1.0e2", "1E+2", "2.5e-3", "0.1", "-12.5E10", "1e400", "9007199254740993", "1.000"}

var stringLits = []string{`""`, `"a"`, `"\/\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `"<&>"`, `"\u003c"`, "\"\xff\"", `"_placeholder"`, `"\u2028"`}

var nsRune = rapid.Rune().Filter(func(r rune) bool { return r >= 0x20 && r != 0x7f && r != ',' && utf8.ValidRune(r) })

func genNumber(t *rapid.T) string {
	if rapid.Bool().Draw(t, "litNumber") {
		return rapid.SampledFrom(numberLits).Draw(t, "number")
	}
	return strconv.FormatInt(rapid.Int64().Draw(t, "int"), 10)
}

func genJSONString(t *rapid.T) string {
	if rapid.Bool().Draw(t, "litString") {
		return rapid.SampledFrom(stringLits).Draw(t, "string")
	}
	return string(appendString(nil, rapid.String().Draw(t, "s")))
}

func genKey(t *rapid.T) string {
	k := genJSONString(t)
	if k == `"_placeholder"` {
		k = `"placeholder"`
	}
	return k
}

func ws(t *rapid.T, depth int) string {
	if depth < 2 {
		return ""
	}
	return rapid.SampledFrom([]string{"", "", " ", "\n\t"}).Draw(t, "ws")
}

// genJSON returns one JSON value; depth is that of its container.
func genJSON(t *rapid.T, depth int, g *phGen) string {
	k := rapid.IntRange(0, 7).Draw(t, "kind")
	if depth >= 5 && (k == 5 || k == 6) {
		k = 3
	}
	if k == 7 && !g.available() {
		k = 4
	}
	switch k {
	case 0:
		return "null"
	case 1:
		return "true"
	case 2:
		return "false"
	case 3:
		return genNumber(t)
	case 4:
		return genJSONString(t)
	case 5:
		n := rapid.IntRange(0, 4).Draw(t, "len")
		parts := make([]string, n)
		for i := range parts {
			parts[i] = ws(t, depth+1) + genJSON(t, depth+1, g) + ws(t, depth+1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case 6:
		return genObject(t, depth, g)
	}
	return `{"_placeholder":true,"num":` + strconv.Itoa(g.take(t)) + `}`
}

func genObject(t *rapid.T, depth int, g *phGen) string {
	n := rapid.IntRange(0, 4).Draw(t, "members")
	parts := make([]string, n)
	for i := range parts {
		parts[i] = ws(t, depth+1) + genKey(t) + ws(t, depth+1) + ":" + genJSON(t, depth+1, g)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// genArgs returns the JSON array of an event (with a name) or an ack.
func genArgs(t *rapid.T, event bool, g *phGen) string {
	var parts []string
	if event {
		if rapid.Bool().Draw(t, "numericName") {
			parts = append(parts, genNumber(t))
		} else {
			name := genJSONString(t)
			var d Decoder
			if _, err := d.DecodeText([]byte("2[" + name + "]")); err != nil {
				name = `"x"` // reserved
			}
			parts = append(parts, name)
		}
	}
	for n := rapid.IntRange(0, 4).Draw(t, "args"); n > 0; n-- {
		parts = append(parts, genJSON(t, 1, g))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func genPacket(t *rapid.T) *Packet {
	p := &Packet{Type: PacketType(rapid.IntRange(0, 6).Draw(t, "type"))}
	if rapid.Bool().Draw(t, "customNS") {
		p.Namespace = "/" + rapid.StringOfN(nsRune, 0, 12, -1).Draw(t, "ns")
	} else {
		p.Namespace = rapid.SampledFrom([]string{"", "/"}).Draw(t, "mainNS")
	}
	if rapid.Bool().Draw(t, "hasID") {
		p.HasID = true
		p.ID = rapid.OneOf(rapid.Int64Range(0, 100), rapid.Int64Range(0, MaxAckID)).Draw(t, "id")
	}
	g := &phGen{}
	if p.Type.isBinary() {
		g.natt = rapid.IntRange(0, 5).Draw(t, "natt")
		for i := 0; i < g.natt; i++ {
			p.Attachments = append(p.Attachments, rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "att"))
		}
	}
	switch p.Type {
	case Connect:
		if rapid.Bool().Draw(t, "connectData") {
			p.Data = []byte(genObject(t, 0, g))
		}
	case ConnectError:
		if rapid.Bool().Draw(t, "errorObject") {
			p.Data = []byte(genObject(t, 0, g))
		} else {
			p.Data = []byte(genJSONString(t))
		}
	case Event, BinaryEvent:
		p.Data = []byte(genArgs(t, true, g))
	case Ack, BinaryAck:
		p.Data = []byte(genArgs(t, false, g))
	}
	return p
}

var roomyLimits = Limits{MaxAttachments: 10000, MaxDepth: 64, MaxAttachmentBytes: 1 << 30, MaxPacketBytes: 1 << 30}

// TestProp_PacketRoundTrip: decode(encode(p)) == p for every valid packet.
func TestProp_PacketRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPacket(t)
		frame := AppendPacket(nil, p)
		d := NewDecoder(roomyLimits)
		q, err := decodeAll(d, string(frame), p.Attachments...)
		if err != nil {
			t.Fatalf("decode %q: %v", frame, err)
		}
		if q == nil || d.Pending() {
			t.Fatalf("decode %q: incomplete", frame)
		}
		if !packetsEqual(p, q) {
			t.Fatalf("frame %q\nsent %+v\ngot  %+v", frame, *p, *q)
		}
		if q.Namespace != normNS(p.Namespace) {
			t.Fatalf("namespace %q", q.Namespace)
		}
	})
}

// TestProp_RawReencodeIdentical: a packet from the wire, split into Raw
// arguments and encoded again, gives the same bytes and attachments.
func TestProp_RawReencodeIdentical(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := &phGen{seq: true, natt: rapid.IntRange(0, 6).Draw(t, "natt")}
		event := rapid.Bool().Draw(t, "event")
		data := genArgs(t, event, g)
		typ := Ack
		if event {
			typ = Event
		}
		var atts [][]byte
		if g.next > 0 {
			typ += BinaryEvent - Event
			for i := 0; i < g.next; i++ {
				atts = append(atts, rapid.SliceOfN(rapid.Byte(), 0, 16).Draw(t, "att"))
			}
		}
		in := &Packet{Type: typ, Namespace: "/ns", ID: 7, HasID: true, Data: []byte(data), Attachments: atts}
		wire := AppendPacket(nil, in)
		p, err := decodeAll(NewDecoder(roomyLimits), string(wire), atts...)
		if err != nil {
			t.Fatalf("%s: %v", wire, err)
		}
		raws, err := SplitArgs(p)
		if err != nil {
			t.Fatal(err)
		}
		args := make([]any, len(raws))
		for i := range raws {
			args[i] = raws[i]
		}
		var e Encoder
		out, outAtts, err := e.AppendArgs(nil, nil, args...)
		if err != nil {
			t.Fatal(err)
		}
		again := AppendPacket(nil, &Packet{Type: typ, Namespace: "/ns", ID: 7, HasID: true, Data: out, Attachments: outAtts})
		if !bytes.Equal(again, wire) {
			t.Fatalf("re-encoded\n%s\nwant\n%s", again, wire)
		}
		if len(outAtts) != len(atts) {
			t.Fatalf("%d attachments, want %d", len(outAtts), len(atts))
		}
		for i := range atts {
			if !bytes.Equal(outAtts[i], atts[i]) {
				t.Fatalf("attachment %d differs", i)
			}
		}
	})
}

// TestRawReencodeExample: numbers and key order survive.
func TestRawReencodeExample(t *testing.T) {
	wire := `52-/a,3["ev",{"z":1.0e2,"a":[{"_placeholder":true,"num":0}],"m":-0.0},{"_placeholder":true,"num":1},1E+2]`
	atts := [][]byte{{1}, {2}}
	p, err := decodeAll(&Decoder{}, wire, atts...)
	if err != nil {
		t.Fatal(err)
	}
	raws, err := SplitArgs(p)
	if err != nil {
		t.Fatal(err)
	}
	var e Encoder
	out, outAtts, err := e.AppendArgs(nil, nil, raws[0], raws[1], raws[2], &raws[3])
	if err != nil {
		t.Fatal(err)
	}
	got := AppendPacket(nil, &Packet{Type: BinaryEvent, Namespace: "/a", ID: 3, HasID: true, Data: out, Attachments: outAtts})
	if string(got) != wire || !reflect.DeepEqual(outAtts, atts) {
		t.Fatalf("got %s %v", got, outAtts)
	}
	if raws[1].String() != `{"z":1.0e2,"a":[{"_placeholder":true,"num":0}],"m":-0.0}` {
		t.Fatal(raws[1].String())
	}
}

// TestProp_BindAnyMatchesEncodingJSON: without placeholders, Bind into *any
// yields what json.Unmarshal yields.
func TestProp_BindAnyMatchesEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		js := genJSON(t, 0, &phGen{})
		var want, got any
		errWant := json.Unmarshal([]byte(js), &want)
		errGot := Raw{JSON: []byte(js)}.Bind(&got)
		if (errWant == nil) != (errGot == nil) {
			t.Fatalf("%s: encoding/json %v, Bind %v", js, errWant, errGot)
		}
		if errWant == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("%s: encoding/json %#v, Bind %#v", js, want, got)
		}
	})
}

// ---- Go values with binary, through the wire and back ----

type bindInner struct {
	Blob []byte `json:"blob"`
	Tag  string `json:"tag"`
}

type bindEmbed struct {
	E []byte
}

type bindNode struct {
	Name  string            `json:"name"`
	Blob  []byte            `json:"blob"`
	Blobs [][]byte          `json:"blobs"`
	Map   map[string][]byte `json:"map"`
	Inner *bindInner        `json:"inner,omitempty"`
	Kids  []bindNode        `json:"kids"`
	Arr   [2][]byte         `json:"arr"`
	N     float64           `json:"n"`
	bindEmbed
}

func genBytes(t *rapid.T) []byte {
	if rapid.IntRange(0, 4).Draw(t, "nilBytes") == 0 {
		return nil
	}
	return rapid.SliceOfN(rapid.Byte(), 0, 16).Draw(t, "bytes")
}

func genFiniteFloat(t *rapid.T) float64 {
	f := rapid.Float64().Draw(t, "f")
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

func genNode(t *rapid.T, depth int) bindNode {
	n := bindNode{
		Name:      rapid.String().Draw(t, "name"),
		Blob:      genBytes(t),
		N:         genFiniteFloat(t),
		Arr:       [2][]byte{genBytes(t), genBytes(t)},
		bindEmbed: bindEmbed{genBytes(t)},
	}
	if rapid.Bool().Draw(t, "blobs") {
		n.Blobs = [][]byte{}
		for i := rapid.IntRange(0, 3).Draw(t, "nblobs"); i > 0; i-- {
			n.Blobs = append(n.Blobs, genBytes(t))
		}
	}
	if rapid.Bool().Draw(t, "map") {
		n.Map = map[string][]byte{}
		for i := rapid.IntRange(0, 3).Draw(t, "nmap"); i > 0; i-- {
			n.Map[rapid.String().Draw(t, "key")] = genBytes(t)
		}
	}
	if rapid.Bool().Draw(t, "inner") {
		n.Inner = &bindInner{Blob: genBytes(t), Tag: rapid.String().Draw(t, "tag")}
	}
	if depth > 0 && rapid.Bool().Draw(t, "kids") {
		n.Kids = []bindNode{}
		for i := rapid.IntRange(0, 2).Draw(t, "nkids"); i > 0; i-- {
			n.Kids = append(n.Kids, genNode(t, depth-1))
		}
	}
	return n
}

// validUTF8 replaces what JSON cannot carry, as encoding/json does.
func validUTF8(s string) string { return strings.ToValidUTF8(s, "\ufffd") }

func fixStrings(n *bindNode) {
	n.Name = validUTF8(n.Name)
	if n.Inner != nil {
		n.Inner.Tag = validUTF8(n.Inner.Tag)
	}
	if n.Map != nil {
		m := map[string][]byte{}
		for k, v := range n.Map {
			m[validUTF8(k)] = v
		}
		n.Map = m
	}
	for i := range n.Kids {
		fixStrings(&n.Kids[i])
	}
}

// TestProp_ArgsBindRoundTrip: Go values with binary at any depth, encoded,
// framed, decoded, split and bound back, are equal to the originals.
func TestProp_ArgsBindRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		node := genNode(t, 2)
		top := genBytes(t)
		list := [][]byte{genBytes(t), genBytes(t)}
		var e Encoder
		data, atts, err := e.AppendArgs(nil, nil, "ev", node, top, list)
		if err != nil {
			t.Fatal(err)
		}
		typ := Event
		if len(atts) > 0 {
			typ = BinaryEvent
		}
		frame := AppendPacket(nil, &Packet{Type: typ, Data: data, Attachments: atts})
		p, err := decodeAll(NewDecoder(roomyLimits), string(frame), atts...)
		if err != nil {
			t.Fatalf("%s: %v", frame, err)
		}
		raws, err := SplitArgs(p)
		if err != nil || len(raws) != 4 {
			t.Fatalf("split: %v %d", err, len(raws))
		}
		var name string
		var gotNode bindNode
		var gotTop []byte
		var gotList [][]byte
		for i, dst := range []any{&name, &gotNode, &gotTop, &gotList} {
			if err := raws[i].Bind(dst); err != nil {
				t.Fatalf("bind %d: %v", i, err)
			}
		}
		fixStrings(&node)
		if name != "ev" || !reflect.DeepEqual(gotNode, node) || !reflect.DeepEqual(gotTop, top) || !reflect.DeepEqual(gotList, list) {
			t.Fatalf("got %#v %#v %#v\nwant %#v %#v %#v", gotNode, gotTop, gotList, node, top, list)
		}
		// Into *any, binary comes back as []byte.
		var anyTop any
		if err := raws[2].Bind(&anyTop); err != nil {
			t.Fatal(err)
		}
		if top == nil && anyTop != nil || top != nil && !bytes.Equal(anyTop.([]byte), top) {
			t.Fatalf("any %#v, want %#v", anyTop, top)
		}
	})
}

func TestBindForms(t *testing.T) {
	r := Raw{
		JSON:        []byte(`{"a":{"_placeholder":true,"num":1},"b":[{"_placeholder":true,"num":0},2],"c":"s"}`),
		Attachments: [][]byte{{0}, {1, 1}},
	}
	var m map[string]any
	if err := r.Bind(&m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": []byte{1, 1}, "b": []any{[]byte{0}, 2.0}, "c": "s"}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("%#v", m)
	}
	// The bytes are copies.
	m["a"].([]byte)[0] = 9
	if r.Attachments[1][0] != 1 {
		t.Fatal("Bind aliases the attachments")
	}
	// Into an existing map it merges, as encoding/json does.
	m2 := map[string]any{"z": true}
	if err := r.Bind(&m2); err != nil || len(m2) != 4 {
		t.Fatal(err, m2)
	}
	// Typed: []byte fields get the bytes; other fields see base64.
	var typed struct {
		A []byte
		B []any
		C string
	}
	if err := r.Bind(&typed); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(typed.A, []byte{1, 1}) || typed.B[0] != "AA==" || typed.C != "s" {
		t.Fatalf("%#v", typed)
	}
	var list []any
	if err := (Raw{JSON: []byte(`[1,"x",null]`)}).Bind(&list); err != nil || !reflect.DeepEqual(list, []any{1.0, "x", nil}) {
		t.Fatal(err, list)
	}
	if err := (Raw{JSON: []byte(`{}`)}).Bind(&list); err == nil {
		t.Fatal("object into *[]any")
	}
	if err := (Raw{JSON: []byte(`null`)}).Bind(&list); err != nil || list != nil {
		t.Fatal(err, list)
	}
	// Zero Raw is null.
	s := "keep"
	if err := (Raw{}).Bind(&s); err != nil || s != "keep" {
		t.Fatal(err, s)
	}
	// Bad placeholders and bad JSON are *Error.
	wantCode(t, Raw{JSON: []byte(`{"_placeholder":true,"num":0}`)}.Bind(&s), ErrCodeBadPlaceholder)
	wantCode(t, Raw{JSON: []byte(`[1,`)}.Bind(&s), ErrCodeSyntax)
	var f any
	if err := (Raw{JSON: []byte(`1e400`)}).Bind(&f); err == nil {
		t.Fatal("1e400 into any")
	}
}

func TestSplitArgsErrors(t *testing.T) {
	for _, p := range []*Packet{
		{Type: Event},
		{Type: Event, Data: []byte(`{}`)},
		{Type: Event, Data: []byte(`[1,`)},
		{Type: BinaryEvent, Data: []byte(`[{"_placeholder":true,"num":1}]`), Attachments: [][]byte{{1}}},
	} {
		if _, err := SplitArgs(p); err == nil {
			t.Errorf("%s: no error", p.Data)
		}
	}
	raws, err := SplitArgs(&Packet{Type: Ack, Data: []byte(`[ ]`)})
	if err != nil || len(raws) != 0 {
		t.Fatal(err, raws)
	}
	raws, err = SplitArgs(&Packet{Type: Ack, Data: []byte(` [ 1 , "a" ,{ } ,[1,2,3,4,5,6,7,8,9,10],2,3,4,5,6,7,8 ] `)})
	if err != nil || len(raws) != 11 || raws[2].String() != "{ }" || raws[10].String() != "8" {
		t.Fatal(err, raws)
	}
	// Appending to one argument does not clobber the next.
	_ = append(raws[0].JSON, 'x')
	if raws[1].String() != `"a"` {
		t.Fatal("arguments share capacity")
	}
}

// ---- encoder against encoding/json ----

type upperText string

func (u upperText) MarshalText() ([]byte, error) { return []byte(strings.ToUpper(string(u))), nil }

type jLeaf struct {
	L  int    `json:"l"`
	LS string `json:"ls,omitempty"`
}

type jA struct {
	A      int
	B      string `json:"b,omitempty"`
	Shared int
	Q      float64 `json:",string"`
	jLeaf
}

type JB struct {
	Shared int
	C      float32 `json:"c"`
	D      *int    `json:"d,omitempty"`
	Name   string  `json:"name"`
	L      string
}

type jTag struct {
	X int `json:"Shared"`
}

type jInner struct {
	V []uint `json:"v"`
}

type jDup1 struct{ jLeaf }
type jDup2 struct{ jLeaf }

type jOuter struct {
	jA
	*JB
	jTag
	jInner `json:"inner"`
	jDup1
	jDup2
	X     string               `json:"x"`
	Y     []int                `json:"y,omitempty"`
	Z     map[string]float64   `json:"z,omitzero"`
	N     json.Number          `json:"n,omitempty"`
	QB    bool                 `json:"qb,string"`
	QS    string               `json:"qs,string"`
	QP    *int64               `json:"qp,string"`
	QU    uint8                `json:"qu,string,omitempty"`
	I     any                  `json:"i"`
	MI    map[int]string       `json:"mi"`
	MU    map[uint16]bool      `json:"mu,omitempty"`
	MT    map[textKey]int      `json:"mt"`
	Arr   [3]uint8             `json:"arr"`
	T     time.Time            `json:"t"`
	TZ    time.Time            `json:"tz,omitzero"`
	TP    *time.Time           `json:"tp,omitempty"`
	Raw   json.RawMessage      `json:"raw,omitempty"`
	AM    addrMarsh            `json:"am"`
	AMs   []addrMarsh          `json:"ams"`
	AMm   map[string]addrMarsh `json:"amm"`
	AT    addrText             `json:"at"`
	TX    upperText            `json:"tx"`
	TXP   *upperText           `json:"txp"`
	skip  int
	Dash  int     `json:"-"`
	DashC int     `json:"-,"`
	Bad   int     `json:"a\\b"`
	Next  *jOuter `json:"next,omitempty"`
	U     uint64
	F32   float32
	E     struct{}
	ES    struct{ A, b int }
	SS    [][]string
	PP    **int
	Iface interface{ MarshalText() ([]byte, error) } `json:",omitempty"`
}

// Untagged fields of the same name at the same depth cancel out. (Tagged
// duplicates do too, but vet rejects them in source.)
type jName1 struct {
	Name string
	Only int
}
type jName2 struct {
	Name  string
	Other string
}

type jAmbiguous struct {
	jName1
	jName2
	Other int
	*jOuter
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	rawMsgType = reflect.TypeFor[json.RawMessage]()
)

var rawMessages = []string{`{ "a" : [1, 2] }`, `[]`, ` "x" `, "\n1e5\t", `{"_x":true}`}

func genFloat(t *rapid.T, bits int) float64 {
	specials := []float64{0, math.Copysign(0, -1), 1, -1.5, 1e20, 1e21, 123456789e15, 1e-6, 1e-7, 9.99999e-7,
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 5e-324, 0.1, 1.0 / 3, 100, 1e100}
	if bits == 32 {
		specials = []float64{0, 1, -1.5, 1e20, 1e21, 1e-6, 1e-7, math.MaxFloat32, math.SmallestNonzeroFloat32, 0.1, 16777217}
	}
	switch rapid.IntRange(0, 2).Draw(t, "floatKind") {
	case 0:
		return rapid.SampledFrom(specials).Draw(t, "special")
	case 1:
		if bits == 32 {
			f := rapid.Float32().Draw(t, "f32")
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return 0
			}
			return float64(f)
		}
		return genFiniteFloat(t)
	}
	return float64(rapid.Int64Range(-1e6, 1e6).Draw(t, "intFloat")) / rapid.SampledFrom([]float64{1, 10, 1e7, 1e-8}).Draw(t, "scale")
}

func genGoString(t *rapid.T) string {
	switch rapid.IntRange(0, 2).Draw(t, "strKind") {
	case 0:
		return rapid.String().Draw(t, "str")
	case 1:
		return rapid.StringOf(rapid.SampledFrom([]rune{'<', '>', '&', '\u2028', '\u2029', 0, 0x1f, '"', '\\', 0x7f, '\b', '\f', '\n', 'é', '😀', 0xfffd, 'a'})).Draw(t, "special")
	}
	return string(rapid.SliceOfN(rapid.Byte(), 0, 12).Draw(t, "rawBytes"))
}

func genAny(t *rapid.T, depth int) any {
	k := rapid.IntRange(0, 8).Draw(t, "anyKind")
	if depth <= 0 && k >= 6 {
		k = 0
	}
	switch k {
	case 0:
		return nil
	case 1:
		return rapid.Bool().Draw(t, "bool")
	case 2:
		return genFloat(t, 64)
	case 3:
		return genGoString(t)
	case 4:
		return rapid.Int().Draw(t, "int")
	case 5:
		return jLeaf{L: rapid.Int().Draw(t, "l"), LS: genGoString(t)}
	case 6:
		n := rapid.IntRange(0, 3).Draw(t, "n")
		s := make([]any, n)
		for i := range s {
			s[i] = genAny(t, depth-1)
		}
		return s
	case 7:
		m := map[string]any{}
		for n := rapid.IntRange(0, 3).Draw(t, "n"); n > 0; n-- {
			m[genGoString(t)] = genAny(t, depth-1)
		}
		return m
	}
	return &jLeaf{L: 1}
}

// fill sets v (settable) to a random value of its type.
func fill(t *rapid.T, v reflect.Value, depth int) {
	switch v.Type() {
	case timeType:
		v.Set(reflect.ValueOf(time.Unix(rapid.Int64Range(-1e10, 1e10).Draw(t, "unix"), rapid.Int64Range(0, 1e9).Draw(t, "nsec")).UTC()))
		return
	case numberType:
		v.SetString(rapid.SampledFrom(append([]string{""}, numberLits...)).Draw(t, "number"))
		return
	case rawMsgType:
		if rapid.Bool().Draw(t, "rawNil") {
			return
		}
		v.SetBytes([]byte(rapid.SampledFrom(rawMessages).Draw(t, "raw")))
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(rapid.Bool().Draw(t, "bool"))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(rapid.Int64().Draw(t, "int"))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(rapid.Uint64().Draw(t, "uint"))
	case reflect.Float32:
		v.SetFloat(genFloat(t, 32))
	case reflect.Float64:
		v.SetFloat(genFloat(t, 64))
	case reflect.String:
		v.SetString(genGoString(t))
	case reflect.Interface:
		if v.NumMethod() == 0 {
			if x := genAny(t, depth); x != nil {
				v.Set(reflect.ValueOf(x))
			}
		} else if rapid.Bool().Draw(t, "iface") {
			v.Set(reflect.ValueOf(upperText(genGoString(t))))
		}
	case reflect.Pointer:
		if depth > 0 && rapid.Bool().Draw(t, "ptr") {
			p := reflect.New(v.Type().Elem())
			fill(t, p.Elem(), depth-1)
			v.Set(p)
		}
	case reflect.Slice:
		if rapid.IntRange(0, 3).Draw(t, "nilSlice") == 0 {
			return
		}
		n := rapid.IntRange(0, 3).Draw(t, "len")
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			fill(t, s.Index(i), depth-1)
		}
		v.Set(s)
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fill(t, v.Index(i), depth-1)
		}
	case reflect.Map:
		if rapid.IntRange(0, 3).Draw(t, "nilMap") == 0 {
			return
		}
		m := reflect.MakeMap(v.Type())
		for n := rapid.IntRange(0, 3).Draw(t, "len"); n > 0; n-- {
			k := reflect.New(v.Type().Key()).Elem()
			fill(t, k, depth-1)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(t, e, depth-1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			sf := v.Type().Field(i)
			if f.CanSet() || (sf.Anonymous && f.Kind() == reflect.Struct) {
				fill(t, f, depth)
			}
		}
	}
}

func checkMatchesEncodingJSON(t *rapid.T, v any) {
	want, errStd := stdJSON([]any{v})
	var e Encoder
	got, atts, err := e.AppendArgs(nil, nil, v)
	if errStd != nil {
		if err == nil {
			t.Fatalf("encoding/json fails (%v), AppendArgs writes %s", errStd, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("AppendArgs: %v; encoding/json writes %s", err, want)
	}
	if len(atts) != 0 || !bytes.Equal(got, want) {
		t.Fatalf("AppendArgs\n%s\nencoding/json\n%s", got, want)
	}
}

func genTyped[T any](depth int) *rapid.Generator[T] {
	return rapid.Custom(func(t *rapid.T) T {
		var x T
		fill(t, reflect.ValueOf(&x).Elem(), depth)
		return x
	})
}

// TestProp_EncoderMatchesEncodingJSON: for values without binary the
// encoder writes what encoding/json writes (HTML escaping off).
func TestProp_EncoderMatchesEncodingJSON(t *testing.T) {
	t.Run("any", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) { checkMatchesEncodingJSON(t, genAny(t, 4)) })
	})
	t.Run("struct", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			x := genTyped[jOuter](3).Draw(t, "outer")
			checkMatchesEncodingJSON(t, x)
			checkMatchesEncodingJSON(t, &x)
			checkMatchesEncodingJSON(t, []jOuter{x})
			checkMatchesEncodingJSON(t, map[string]jOuter{"k": x})
		})
	})
	t.Run("ambiguous", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			x := genTyped[jAmbiguous](2).Draw(t, "ambiguous")
			checkMatchesEncodingJSON(t, x)
			checkMatchesEncodingJSON(t, &x)
		})
	})
	t.Run("floats", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			f := genFloat(t, 64)
			f32 := float32(genFloat(t, 32))
			checkMatchesEncodingJSON(t, f)
			checkMatchesEncodingJSON(t, f32)
			checkMatchesEncodingJSON(t, struct {
				F float64 `json:",string"`
				G float32 `json:",string"`
			}{f, f32})
		})
	})
	t.Run("strings", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			s := genGoString(t)
			checkMatchesEncodingJSON(t, s)
			checkMatchesEncodingJSON(t, map[string]string{s: s})
			checkMatchesEncodingJSON(t, struct {
				S string `json:",string"`
			}{s})
		})
	})
}

// ---- the ack table against a model ----

// TestProp_AckTable runs random sequences of Add, Resolve, Expire and Drain
// and checks, against a model, that every entry is resolved exactly once.
func TestProp_AckTable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var tab AckTable[int64]
		type entry struct{ deadline int64 }
		pending := map[int64]entry{}
		resolved := map[int64]int{}
		var added, now int64
		value := func(id int64) int64 { return id*10 + 7 }
		settle := func(id, v int64) {
			if v != value(id) {
				t.Fatalf("id %d came with value %d", id, v)
			}
			if _, ok := pending[id]; !ok {
				t.Fatalf("id %d resolved but not pending", id)
			}
			delete(pending, id)
			resolved[id]++
			if resolved[id] > 1 {
				t.Fatalf("id %d resolved twice", id)
			}
		}
		t.Repeat(map[string]func(*rapid.T){
			"add": func(t *rapid.T) {
				dl := int64(0)
				if rapid.Bool().Draw(t, "withDeadline") {
					dl = now + rapid.Int64Range(-5, 30).Draw(t, "in")
					if dl == 0 {
						dl = 1
					}
				}
				id := tab.Add(value(added), dl)
				if id != added {
					t.Fatalf("id %d, want %d", id, added)
				}
				pending[id] = entry{dl}
				added++
			},
			"resolve": func(t *rapid.T) {
				id := rapid.Int64Range(0, added+1).Draw(t, "id")
				_, want := pending[id]
				v, ok := tab.Resolve(id)
				if ok != want {
					t.Fatalf("Resolve(%d) ok=%v, want %v", id, ok, want)
				}
				if ok {
					settle(id, v)
				}
			},
			"expire": func(t *rapid.T) {
				now += rapid.Int64Range(0, 20).Draw(t, "advance")
				var want []int64
				for id, e := range pending {
					if e.deadline != 0 && e.deadline <= now {
						want = append(want, id)
					}
				}
				slices.SortFunc(want, func(a, b int64) int {
					da, db := pending[a].deadline, pending[b].deadline
					if da != db {
						return int(da - db)
					}
					return int(a - b)
				})
				var got []int64
				tab.Expire(now, func(id, v int64) {
					got = append(got, id)
					settle(id, v)
				})
				if !slices.Equal(got, want) {
					t.Fatalf("expired %v, want %v", got, want)
				}
			},
			"drain": func(t *rapid.T) {
				var want []int64
				for id := range pending {
					want = append(want, id)
				}
				slices.Sort(want)
				var got []int64
				tab.Drain(func(id, v int64) {
					got = append(got, id)
					settle(id, v)
				})
				if !slices.Equal(got, want) {
					t.Fatalf("drained %v, want %v", got, want)
				}
			},
			"": func(t *rapid.T) {
				if tab.Len() != len(pending) {
					t.Fatalf("Len %d, want %d", tab.Len(), len(pending))
				}
				var min int64
				has := false
				for _, e := range pending {
					if e.deadline != 0 && (!has || e.deadline < min) {
						min, has = e.deadline, true
					}
				}
				got, ok := tab.NextDeadline()
				if ok != has || (has && got != min) {
					t.Fatalf("NextDeadline %d %v, want %d %v", got, ok, min, has)
				}
			},
		})
		tab.Drain(func(id, v int64) { settle(id, v) })
		for id := int64(0); id < added; id++ {
			if resolved[id] != 1 {
				t.Fatalf("id %d resolved %d times", id, resolved[id])
			}
		}
		if tab.Len() != 0 || len(tab.slots) != 0 || len(tab.heap) != 0 {
			t.Fatalf("table not empty after drain")
		}
	})
}

// TestProp_DecoderNeverPanics mutates valid frames at random.
func TestProp_DecoderNeverPanics(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPacket(t)
		frame := AppendPacket(nil, p)
		for n := rapid.IntRange(0, 4).Draw(t, "mutations"); n > 0 && len(frame) > 0; n-- {
			i := rapid.IntRange(0, len(frame)-1).Draw(t, "at")
			switch rapid.IntRange(0, 2).Draw(t, "op") {
			case 0:
				frame[i] = rapid.Byte().Draw(t, "byte")
			case 1:
				frame = append(frame[:i], frame[i+1:]...)
			default:
				frame = slices.Insert(frame, i, rapid.SampledFrom([]byte(`[]{}",:0-/\5`)).Draw(t, "ins"))
			}
		}
		d := NewDecoder(Limits{MaxAttachments: 3, MaxDepth: 4})
		q, err := d.DecodeText(frame)
		for err == nil && q == nil {
			q, err = d.DecodeBinary([]byte{1})
		}
		if err != nil {
			var e *Error
			if !errorsAs(err, &e) {
				t.Fatalf("untyped error %T", err)
			}
			return
		}
		if _, err := SplitArgs(q); err != nil && (q.Type == Event || q.Type == Ack || q.Type == BinaryEvent || q.Type == BinaryAck) {
			t.Fatalf("SplitArgs of a decoded packet: %v", err)
		}
	})
}
