package sio

import "strconv"

// PacketType is the first character of a Socket.IO packet.
type PacketType byte

// The seven packet types of Socket.IO v5.
const (
	Connect      PacketType = 0
	Disconnect   PacketType = 1
	Event        PacketType = 2
	Ack          PacketType = 3
	ConnectError PacketType = 4
	BinaryEvent  PacketType = 5
	BinaryAck    PacketType = 6
)

var packetTypeText = [...]string{
	Connect:      "CONNECT",
	Disconnect:   "DISCONNECT",
	Event:        "EVENT",
	Ack:          "ACK",
	ConnectError: "CONNECT_ERROR",
	BinaryEvent:  "BINARY_EVENT",
	BinaryAck:    "BINARY_ACK",
}

func (t PacketType) String() string {
	if int(t) < len(packetTypeText) {
		return packetTypeText[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// isBinary reports whether packets of type t carry an attachment count.
func (t PacketType) isBinary() bool { return t == BinaryEvent || t == BinaryAck }

// MaxAckID is the largest ack id on the wire: peers hold ids in IEEE 754 doubles,
// exact up to 2^53-1.
const MaxAckID = 1<<53 - 1

// Packet is one Socket.IO packet.
//
// Namespace "" and "/" both mean the main namespace; the decoder yields "/".
// Any other namespace starts with "/" and contains no ','.
//
// ID is the ack id, meaningful when HasID is set; it lies in [0, MaxAckID].
//
// Data is the JSON payload exactly as on the wire, placeholders included, or
// nil when absent. Attachments are the binary attachments of BinaryEvent and
// BinaryAck packets, in placeholder-number order; the other types have none.
type Packet struct {
	Type        PacketType
	Namespace   string
	ID          int64
	HasID       bool
	Data        []byte
	Attachments [][]byte
}

// AppendPacket appends the text frame of p (header and Data) to dst and
// returns the extended slice. For BinaryEvent and BinaryAck it writes
// len(p.Attachments) as the attachment count; the attachments themselves
// travel as separate binary frames, in order, after the text frame.
//
// AppendPacket does not validate p: the caller keeps Namespace, ID and Data
// within the rules documented on [Packet].
func AppendPacket(dst []byte, p *Packet) []byte {
	return append(appendHeader(dst, p), p.Data...)
}

// appendHeader appends what comes before p's data in its text form: the
// type, the attachment count, the namespace and the ack id.
func appendHeader(dst []byte, p *Packet) []byte {
	dst = append(dst, '0'+byte(p.Type))
	if p.Type.isBinary() {
		dst = strconv.AppendInt(dst, int64(len(p.Attachments)), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.HasID {
		dst = strconv.AppendInt(dst, p.ID, 10)
	}
	return dst
}
