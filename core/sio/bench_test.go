package sio

import (
	"testing"
)

type chatMsg struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

// BenchmarkEncodeSmallEvent: AppendArgs and AppendPacket of
// ["chat",{"room":"r1","text":"hello"}] into reused buffers.
func BenchmarkEncodeSmallEvent(b *testing.B) {
	var e Encoder
	args := []any{"chat", chatMsg{Room: "r1", Text: "hello"}}
	data := make([]byte, 0, 128)
	frame := make([]byte, 0, 128)
	var atts [][]byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		data, atts, err = e.AppendArgs(data[:0], atts[:0], args...)
		if err != nil {
			b.Fatal(err)
		}
		frame = AppendPacket(frame[:0], &Packet{Type: Event, Data: data})
	}
	b.SetBytes(int64(len(frame)))
}

// BenchmarkEncodeSmallEventMap is the same event with a map instead of a
// struct (maps cost a few allocations for their sorted keys).
func BenchmarkEncodeSmallEventMap(b *testing.B) {
	var e Encoder
	args := []any{"chat", map[string]string{"room": "r1", "text": "hello"}}
	data := make([]byte, 0, 128)
	frame := make([]byte, 0, 128)
	var atts [][]byte
	b.ReportAllocs()
	for b.Loop() {
		data, atts, _ = e.AppendArgs(data[:0], atts[:0], args...)
		frame = AppendPacket(frame[:0], &Packet{Type: Event, Data: data})
	}
}

// BenchmarkEncodeBinary64K: an event with a 64 KiB attachment.
func BenchmarkEncodeBinary64K(b *testing.B) {
	var e Encoder
	blob := make([]byte, 64<<10)
	args := []any{"upload", blob}
	data := make([]byte, 0, 128)
	frame := make([]byte, 0, 128)
	atts := make([][]byte, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		data, atts, err = e.AppendArgs(data[:0], atts[:0], args...)
		if err != nil {
			b.Fatal(err)
		}
		frame = AppendPacket(frame[:0], &Packet{Type: BinaryEvent, Data: data, Attachments: atts})
	}
	b.SetBytes(int64(len(frame) + len(blob)))
}

// BenchmarkDecodeSmallEvent: one text frame to a packet.
func BenchmarkDecodeSmallEvent(b *testing.B) {
	var d Decoder
	frame := []byte(`2["chat",{"room":"r1","text":"hello"}]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if p, err := d.DecodeText(frame); err != nil || p == nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBinary64K: a text frame and its 64 KiB attachment.
func BenchmarkDecodeBinary64K(b *testing.B) {
	var d Decoder
	frame := []byte(`51-["upload",{"_placeholder":true,"num":0}]`)
	blob := make([]byte, 64<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame) + len(blob)))
	for b.Loop() {
		if p, err := d.DecodeText(frame); err != nil || p != nil {
			b.Fatal(err)
		}
		if p, err := d.DecodeBinary(blob); err != nil || p == nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSplitArgs: a decoded event split into its arguments.
func BenchmarkSplitArgs(b *testing.B) {
	var d Decoder
	p, err := d.DecodeText([]byte(`2["chat",{"room":"r1","text":"hello"},42,[1,2,3]]`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if raws, err := SplitArgs(p); err != nil || len(raws) != 4 {
			b.Fatal(err)
		}
	}
}

// BenchmarkBind: one argument bound into a struct.
func BenchmarkBind(b *testing.B) {
	r := Raw{JSON: []byte(`{"room":"r1","text":"hello"}`)}
	b.ReportAllocs()
	for b.Loop() {
		var m chatMsg
		if err := r.Bind(&m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBindBinary: a struct with a []byte field from an attachment.
func BenchmarkBindBinary(b *testing.B) {
	r := Raw{JSON: []byte(`{"name":"f","data":{"_placeholder":true,"num":0}}`), Attachments: [][]byte{make([]byte, 1024)}}
	b.ReportAllocs()
	for b.Loop() {
		var m struct {
			Name string `json:"name"`
			Data []byte `json:"data"`
		}
		if err := r.Bind(&m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAckTable: add and resolve with a deadline.
func BenchmarkAckTable(b *testing.B) {
	var tab AckTable[int]
	for i := 0; i < 100; i++ {
		tab.Add(i, int64(i+1))
	}
	b.ReportAllocs()
	n := int64(0)
	for b.Loop() {
		n++
		id := tab.Add(1, n+1000)
		tab.Resolve(id)
	}
}
