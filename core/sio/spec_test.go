package sio

import (
	"bytes"
	"reflect"
	"testing"
)

// specCase is one example of the protocol document: the text frame, the
// binary frames that follow it, and the packet they stand for.
type specCase struct {
	name  string
	wire  string
	atts  [][]byte
	p     Packet
	noEnc bool // a form the decoder accepts but AppendPacket does not write
}

func buf1234() []byte { return []byte{1, 2, 3, 4} }

func runSpec(t *testing.T, cases []specCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Decode.
			var d Decoder
			got, err := d.DecodeText([]byte(c.wire))
			if err != nil {
				t.Fatalf("DecodeText(%q): %v", c.wire, err)
			}
			for i, a := range c.atts {
				if got != nil {
					t.Fatalf("packet complete before attachment %d", i)
				}
				if !d.Pending() {
					t.Fatalf("not pending before attachment %d", i)
				}
				if got, err = d.DecodeBinary(a); err != nil {
					t.Fatalf("DecodeBinary: %v", err)
				}
			}
			if got == nil || d.Pending() {
				t.Fatalf("no packet after all frames")
			}
			want := c.p
			if want.Namespace == "" {
				want.Namespace = "/"
			}
			if !packetsEqual(got, &want) {
				t.Fatalf("decoded %+v, want %+v", *got, want)
			}
			// Encode.
			if c.noEnc {
				return
			}
			frame := AppendPacket(nil, &c.p)
			if string(frame) != c.wire {
				t.Fatalf("AppendPacket = %q, want %q", frame, c.wire)
			}
			if len(c.p.Attachments) != len(c.atts) {
				t.Fatalf("attachments %d, want %d", len(c.p.Attachments), len(c.atts))
			}
		})
	}
}

func normNS(ns string) string {
	if ns == "" {
		return "/"
	}
	return ns
}

func packetsEqual(a, b *Packet) bool {
	if a.Type != b.Type || normNS(a.Namespace) != normNS(b.Namespace) || a.HasID != b.HasID || !bytes.Equal(a.Data, b.Data) {
		return false
	}
	if (a.Data == nil) != (b.Data == nil) {
		return false
	}
	if a.HasID && a.ID != b.ID {
		return false
	}
	if len(a.Attachments) != len(b.Attachments) {
		return false
	}
	for i := range a.Attachments {
		if !bytes.Equal(a.Attachments[i], b.Attachments[i]) {
			return false
		}
	}
	return true
}

// Section "0 - CONNECT" and its examples.
func TestSpec_Connect(t *testing.T) {
	runSpec(t, []specCase{
		{name: "main namespace", wire: `0`, p: Packet{Type: Connect}},
		{name: "custom namespace", wire: `0/admin,`, p: Packet{Type: Connect, Namespace: "/admin"}},
		{name: "with payload", wire: `0{"token":"123"}`, p: Packet{Type: Connect, Data: []byte(`{"token":"123"}`)}},
		{name: "custom namespace with payload", wire: `0/admin,{"token":"123"}`, p: Packet{Type: Connect, Namespace: "/admin", Data: []byte(`{"token":"123"}`)}},
		{name: "server answer", wire: `0{"sid":"oSO0OpakMV_3jnilAAAA"}`, p: Packet{Type: Connect, Data: []byte(`{"sid":"oSO0OpakMV_3jnilAAAA"}`)}},
		{name: "server answer custom namespace", wire: `0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`, p: Packet{Type: Connect, Namespace: "/admin", Data: []byte(`{"sid":"oSO0OpakMV_3jnilAAAA"}`)}},
		{name: "namespace without comma", wire: `0/admin`, p: Packet{Type: Connect, Namespace: "/admin"}, noEnc: true},
	})
}

// Section "1 - DISCONNECT".
func TestSpec_Disconnect(t *testing.T) {
	runSpec(t, []specCase{
		{name: "custom namespace", wire: `1/admin,`, p: Packet{Type: Disconnect, Namespace: "/admin"}},
		{name: "main namespace", wire: `1`, p: Packet{Type: Disconnect}},
	})
}

// Section "2 - EVENT".
func TestSpec_Event(t *testing.T) {
	runSpec(t, []specCase{
		{name: "main namespace", wire: `2["foo"]`, p: Packet{Type: Event, Data: []byte(`["foo"]`)}},
		{name: "custom namespace", wire: `2/admin,["bar"]`, p: Packet{Type: Event, Namespace: "/admin", Data: []byte(`["bar"]`)}},
		{name: "with ack id", wire: `2/admin,456["project:delete",123]`, p: Packet{Type: Event, Namespace: "/admin", ID: 456, HasID: true, Data: []byte(`["project:delete",123]`)}},
		{name: "ack id main namespace", wire: `212["foo"]`, p: Packet{Type: Event, ID: 12, HasID: true, Data: []byte(`["foo"]`)}},
		{name: "numeric event name", wire: `2[42,"x"]`, p: Packet{Type: Event, Data: []byte(`[42,"x"]`)}},
	})
}

// Section "3 - ACK".
func TestSpec_Ack(t *testing.T) {
	runSpec(t, []specCase{
		{name: "custom namespace", wire: `3/admin,456[]`, p: Packet{Type: Ack, Namespace: "/admin", ID: 456, HasID: true, Data: []byte(`[]`)}},
		{name: "main namespace", wire: `31["bar"]`, p: Packet{Type: Ack, ID: 1, HasID: true, Data: []byte(`["bar"]`)}},
	})
}

// Section "4 - CONNECT_ERROR".
func TestSpec_ConnectError(t *testing.T) {
	runSpec(t, []specCase{
		{name: "main namespace", wire: `4{"message":"Not authorized"}`, p: Packet{Type: ConnectError, Data: []byte(`{"message":"Not authorized"}`)}},
		{name: "custom namespace", wire: `4/admin,{"message":"Invalid namespace"}`, p: Packet{Type: ConnectError, Namespace: "/admin", Data: []byte(`{"message":"Invalid namespace"}`)}},
		{name: "with data", wire: `4{"message":"nope","data":{"code":7}}`, p: Packet{Type: ConnectError, Data: []byte(`{"message":"nope","data":{"code":7}}`)}},
		{name: "older string form", wire: `4"Not authorized"`, p: Packet{Type: ConnectError, Data: []byte(`"Not authorized"`)}},
	})
}

// Section "5 - BINARY_EVENT".
func TestSpec_BinaryEvent(t *testing.T) {
	runSpec(t, []specCase{
		{name: "main namespace", wire: `51-["baz",{"_placeholder":true,"num":0}]`, atts: [][]byte{buf1234()},
			p: Packet{Type: BinaryEvent, Data: []byte(`["baz",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{buf1234()}}},
		{name: "two attachments", wire: `52-["hello",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, atts: [][]byte{{1, 2}, {3, 4}},
			p: Packet{Type: BinaryEvent, Data: []byte(`["hello",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), Attachments: [][]byte{{1, 2}, {3, 4}}}},
		{name: "custom namespace with ack id", wire: `51-/admin,456["baz",{"_placeholder":true,"num":0}]`, atts: [][]byte{buf1234()},
			p: Packet{Type: BinaryEvent, Namespace: "/admin", ID: 456, HasID: true, Data: []byte(`["baz",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{buf1234()}}},
		{name: "zero attachments", wire: `50-["baz"]`, p: Packet{Type: BinaryEvent, Data: []byte(`["baz"]`)}},
	})
}

// Section "6 - BINARY_ACK".
func TestSpec_BinaryAck(t *testing.T) {
	runSpec(t, []specCase{
		{name: "custom namespace", wire: `61-/admin,456[{"_placeholder":true,"num":0}]`, atts: [][]byte{buf1234()},
			p: Packet{Type: BinaryAck, Namespace: "/admin", ID: 456, HasID: true, Data: []byte(`[{"_placeholder":true,"num":0}]`), Attachments: [][]byte{buf1234()}}},
	})
}

// Section "Examples": the binary event is built from Go values.
func TestSpec_ExamplesFromValues(t *testing.T) {
	var e Encoder
	data, atts, err := e.AppendArgs(nil, nil, "hello", []byte{1, 2}, []byte{3, 4})
	if err != nil {
		t.Fatal(err)
	}
	frame := AppendPacket(nil, &Packet{Type: BinaryEvent, Data: data, Attachments: atts})
	if want := `52-["hello",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`; string(frame) != want {
		t.Fatalf("got %s, want %s", frame, want)
	}
	if !reflect.DeepEqual(atts, [][]byte{{1, 2}, {3, 4}}) {
		t.Fatalf("attachments %v", atts)
	}
	data, atts, err = e.AppendArgs(nil, nil, "project:delete", 123)
	if err != nil || len(atts) != 0 {
		t.Fatal(err, atts)
	}
	frame = AppendPacket(nil, &Packet{Type: Event, Namespace: "/admin", ID: 456, HasID: true, Data: data})
	if want := `2/admin,456["project:delete",123]`; string(frame) != want {
		t.Fatalf("got %s, want %s", frame, want)
	}
}

func TestPacketTypeString(t *testing.T) {
	want := []string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK", "PacketType(7)"}
	for i, w := range want {
		if got := PacketType(i).String(); got != w {
			t.Errorf("PacketType(%d) = %q, want %q", i, got, w)
		}
	}
}
