package cluster

import (
	"testing"

	"github.com/sio-go/sio/core"
	"github.com/sio-go/sio/core/sio"
)

// benchEvent is a typical chat message.
func benchEvent(b *testing.B) *core.Outgoing {
	p, err := sio.NewEvent("/", "chat", []any{map[string]any{"user": "bob", "text": "hello world, how are you today?", "n": 42, "ok": true}})
	if err != nil {
		b.Fatal(err)
	}
	return &core.Outgoing{Packet: p}
}

// The publishing side of a broadcast: the event in the classic protocol's
// MessagePack, [uid, packet, opts].
func BenchmarkEncodeBroadcast(b *testing.B) {
	a := &Adapter{uid: "abcdef", name: "/"}
	p := benchEvent(b)
	opts := &core.BroadcastOptions{Rooms: []string{"room1"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.encodeBroadcast(p, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// The receiving side before the local fan-out: decoding the message and
// building the Socket.IO packet.
func BenchmarkDecodeBroadcast(b *testing.B) {
	a := &Adapter{uid: "abcdef", name: "/"}
	msg, err := a.encodeBroadcast(benchEvent(b), &core.BroadcastOptions{Rooms: []string{"room1"}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := decodeMsgpack(msg, 64)
		if err != nil {
			b.Fatal(err)
		}
		arr := v.([]any)
		packet := arr[1].(*object)
		if _, err := readOpts(arr[2].(*object)); err != nil {
			b.Fatal(err)
		}
		data, _ := packet.get("data")
		if _, err := eventPacket("/", data); err != nil {
			b.Fatal(err)
		}
	}
}
