package eio

import (
	"bytes"
	"encoding/base64"
	"strconv"
)

// PacketType is the type of an Engine.IO packet.
type PacketType uint8

// The Engine.IO v4 packet types.
const (
	Open    PacketType = iota // server to client: the handshake
	Close                     // either way: close the session
	Ping                      // server to client (and "probe" client to server during an upgrade)
	Pong                      // client to server (and "probe" server to client during an upgrade)
	Message                   // either way: application data, text or binary
	Upgrade                   // client to server: switch to the probed transport
	Noop                      // server to client: releases a pending poll during an upgrade
)

var packetTypeNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// Packet is one Engine.IO packet. Binary is only meaningful for Message.
// Data is shared, never modified once handed to a session: a broadcast
// queues the same bytes on every session.
type Packet struct {
	Type   PacketType
	Binary bool
	Data   []byte
}

// Probe is the data of the ping and pong packets of an upgrade probe.
var probe = []byte("probe")

// AppendFrame appends the WebSocket frame of p to dst and reports whether it
// must be sent as a binary frame. A text frame is the packet type digit
// followed by the data; a binary message is its raw bytes.
func AppendFrame(dst []byte, p Packet) (frame []byte, binary bool) {
	if p.Type == Message && p.Binary {
		return append(dst, p.Data...), true
	}
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...), false
}

// DecodeFrame decodes one WebSocket frame. The packet's Data aliases frame.
func DecodeFrame(frame []byte, binary bool) (Packet, error) {
	if binary {
		return Packet{Type: Message, Binary: true, Data: frame}, nil
	}
	return decodeText(frame, 0)
}

func decodeText(b []byte, offset int) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, &Error{Code: ErrEmptyPacket, Offset: offset}
	}
	c := b[0]
	if c < '0' || c > '6' {
		return Packet{}, &Error{Code: ErrUnknownType, Offset: offset}
	}
	p := Packet{Type: PacketType(c - '0')}
	if len(b) > 1 {
		p.Data = b[1:]
	}
	return p, nil
}

// Separator stands between the packets of a polling payload.
const Separator = '\x1e'

// AppendPayload appends the polling payload of pkts to dst: packets joined
// by the record separator, a binary message written as "b" and its base64.
func AppendPayload(dst []byte, pkts []Packet) []byte {
	for i, p := range pkts {
		if i > 0 {
			dst = append(dst, Separator)
		}
		dst = appendPayloadPacket(dst, p)
	}
	return dst
}

func appendPayloadPacket(dst []byte, p Packet) []byte {
	if p.Type == Message && p.Binary {
		dst = append(dst, 'b')
		return base64.StdEncoding.AppendEncode(dst, p.Data)
	}
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...)
}

// PayloadLen returns the length AppendPayload would add for pkts.
func PayloadLen(pkts []Packet) int {
	n := 0
	for i, p := range pkts {
		if i > 0 {
			n++
		}
		if p.Type == Message && p.Binary {
			n += 1 + base64.StdEncoding.EncodedLen(len(p.Data))
		} else {
			n += 1 + len(p.Data)
		}
	}
	return n
}

// DecodePayload splits a polling payload and calls fn for each packet in
// order, stopping at the first error. It enforces lim: the body size and the
// number of packets. Text packets alias body; binary packets are decoded
// into fresh slices. An error from fn is returned as is.
func DecodePayload(body []byte, lim Limits, fn func(Packet) error) error {
	lim = lim.withDefaults()
	if len(body) > lim.MaxPayload {
		return &Error{Code: ErrPayloadTooLarge, Limit: lim.MaxPayload, Offset: lim.MaxPayload}
	}
	if len(body) == 0 {
		return &Error{Code: ErrEmptyPacket}
	}
	count := 0
	start := 0
	for start <= len(body) {
		end := len(body)
		if i := bytes.IndexByte(body[start:], Separator); i >= 0 {
			end = start + i
		}
		count++
		if count > lim.MaxPacketsPerPayload {
			return &Error{Code: ErrTooManyPackets, Limit: lim.MaxPacketsPerPayload, Offset: start}
		}
		seg := body[start:end]
		var p Packet
		if len(seg) > 0 && seg[0] == 'b' {
			data := make([]byte, base64.StdEncoding.DecodedLen(len(seg)-1))
			n, err := base64.StdEncoding.Decode(data, seg[1:])
			if err != nil {
				return &Error{Code: ErrBadBase64, Offset: start + 1}
			}
			p = Packet{Type: Message, Binary: true, Data: data[:n]}
		} else {
			var err error
			if p, err = decodeText(seg, start); err != nil {
				return err
			}
		}
		if err := fn(p); err != nil {
			return err
		}
		start = end + 1
	}
	return nil
}
