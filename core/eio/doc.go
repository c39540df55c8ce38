// Package eio is Engine.IO v4 as an I/O-free state machine.
//
// It owns the packet types and their two encodings (WebSocket frames and
// HTTP long-polling payloads), and the session state machine in both roles,
// server and client: the handshake, the heartbeat with its timeouts on both
// sides, the upgrade from polling to WebSocket, and the close with a closed
// set of reasons.
//
// The package imports the standard library only. It never reads a socket,
// starts a goroutine, sleeps or reads the clock: time arrives as the now
// argument of every input, and the caller asks [Session.Deadline] when it
// must next call [Session.HandleTimeout].
//
// # Entry points
//
// Codecs: [AppendFrame] and [DecodeFrame] for WebSocket frames,
// [AppendPayload] and [DecodePayload] for polling bodies, [AppendHandshake]
// and [ParseHandshake] for the open packet.
//
// Sessions: [NewServerSession] and [NewClientSession]. A session is driven
// in four groups of calls, always from one goroutine at a time:
//
//   - inputs: HandleFrame (or HandlePacket), HandlePayload, HandleTimeout,
//     HandleTransportClose, and for the upgrade StartProbe, HandleProbeFrame
//     (or HandleProbePacket), HandleProbeClose;
//   - commands: Send, Close, and on the client CompleteUpgrade;
//   - outputs: TakeOutput (packets for the active transport), TakeProbeOutput
//     (packets for the WebSocket being probed), PollEvent;
//   - the timer: Deadline, then HandleTimeout when it has passed.
//
// After any input or command, drain PollEvent and the outputs, then re-arm
// the timer with Deadline.
//
// # Wasm
//
// The package builds and its tests pass under GOOS=js GOARCH=wasm.
package eio
