package distributor

import (
	"testing"

	"github.com/sio-go/sio/core/eio"
	"github.com/sio-go/sio/core/sio"
)

// The gateway reads the type and ack id of the frames the encoder makes,
// and a frame given another ack id decodes as the same packet with it.
func TestFrameHead(t *testing.T) {
	cases := []sio.Packet{
		{Type: sio.Event, Namespace: "/", Data: []byte(`["a"]`)},
		{Type: sio.Event, Namespace: "/", ID: 7, HasID: true, Data: []byte(`["a",1]`)},
		{Type: sio.Event, Namespace: "/chat", ID: 12345, HasID: true, Data: []byte(`["a"]`)},
		{Type: sio.Ack, Namespace: "/chat", ID: 0, HasID: true, Data: []byte(`[true]`)},
		{Type: sio.Ack, Namespace: "/", ID: sio.MaxAckID, HasID: true, Data: []byte(`[]`)},
		{Type: sio.BinaryEvent, Namespace: "/chat", ID: 3, HasID: true, Data: []byte(`["b",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{1, 2}}},
		{Type: sio.BinaryAck, Namespace: "/", ID: 9, HasID: true, Data: []byte(`[{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{3}}},
		{Type: sio.Connect, Namespace: "/chat", Data: []byte(`{"sid":"abc"}`)},
		{Type: sio.Disconnect, Namespace: "/chat"},
		{Type: sio.Disconnect, Namespace: "/"},
	}
	for _, p := range cases {
		frames := sio.AppendFrames(nil, &p)
		h, ok := frameHead(&frames[0])
		if !ok || h.t != p.Type || h.hasID != p.HasID || h.id != p.ID {
			t.Fatalf("%q: %+v", frames[0].Data, h)
		}
		if len(frames) > 1 {
			if _, ok := frameHead(&frames[1]); ok {
				t.Fatalf("an attachment read as a packet")
			}
		}
		if !p.HasID {
			continue
		}
		moved := withAckID(frames, h, aliasBase+5)
		dec := sio.NewDecoder(sio.Limits{})
		got, err := dec.DecodeText(moved[0].Data)
		for _, a := range moved[1:] {
			if err == nil && got == nil {
				got, err = dec.DecodeBinary(a.Data)
			}
		}
		if err != nil || got == nil || got.ID != aliasBase+5 || got.Type != p.Type || got.Namespace != p.Namespace || string(got.Data) != string(p.Data) {
			t.Fatalf("%q as %q: %+v, %v", frames[0].Data, moved[0].Data, got, err)
		}
		if string(frames[0].Data) == string(moved[0].Data) {
			t.Fatal("the shared frame was changed")
		}
	}
	if _, ok := frameHead(&eio.Packet{Data: []byte("x")}); ok {
		t.Fatal("not a packet")
	}
	if s := connectSID([]byte(`0/chat,{"sid":"abc"}`)); s != "abc" {
		t.Fatalf("sid %q", s)
	}
}
