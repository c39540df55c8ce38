// Package sio is the Socket.IO v5 protocol layer of the I/O-free server
// core: packets, argument values with binary attachments, and pending
// acknowledgements.
//
// It owns three things:
//
//   - Packets. [Packet] and [PacketType] model the seven packet types;
//     [AppendPacket] writes the text frame of a packet, and [Decoder] turns
//     the text and binary frames of one connection back into packets,
//     checking every size a peer controls against [Limits] and the payload
//     shape each packet type allows. Every decoding problem is an *[Error]
//     with an [ErrorCode], an offset and, for limits, the limit crossed.
//   - Values. [Encoder.AppendArgs] turns Go values into the JSON arguments
//     of an event or ack, writing what encoding/json writes (without HTML
//     escaping) except that byte slices become placeholders and are
//     collected as attachments. [SplitArgs] splits a decoded packet into
//     its arguments as [Raw] values without re-encoding them; [Raw.Bind]
//     decodes one into a Go value, placeholders standing for their
//     attachments; a Raw passed back to AppendArgs is written unchanged.
//   - Acknowledgements. [AckTable] hands out ack ids and tracks deadlines,
//     resolving each pending ack exactly once.
//
// The package imports the standard library only. It never reads a socket,
// starts a goroutine or reads the clock: deadlines are int64 values the
// caller supplies, and the caller asks [AckTable.NextDeadline] when it must
// next call [AckTable.Expire]. Engine.IO framing is the business of the
// layer below; this package sees one Engine.IO message at a time.
//
// # Entry points
//
//   - Outgoing: [Encoder.AppendArgs] for the arguments, then [AppendPacket]
//     with the result as Data and the attachments, which follow the text
//     frame as binary frames in order.
//   - Incoming: [Decoder.DecodeText] and [Decoder.DecodeBinary] per frame,
//     then [SplitArgs] and [Raw.Bind] for events and acks.
//   - Acks: [AckTable.Add] when sending with an ack, [AckTable.Resolve] on
//     an ACK packet, [AckTable.Expire] on a timer, [AckTable.Drain] on
//     disconnect.
//
// # Wasm
//
// The package builds and its tests pass under GOOS=js GOARCH=wasm.
package sio
