// Package core is the Socket.IO server as a state machine: namespaces
// (static and dynamic), sockets, rooms, broadcast operators, middlewares,
// event handlers and acknowledgements, and the [Adapter] that spreads rooms
// and broadcasts, with its in-memory implementation.
//
// It imports core/eio, core/sio and the standard library: no network, no
// goroutines, no sleeps. It reads no clock of its own: the adapter that owns
// the network passes now into every input, and supplies Config.Clock, which
// core calls only to stamp the deadline of an acknowledgement requested by
// application code (which has no now to pass).
//
// # Entry points
//
// [NewServer] makes a server; [Server.Of] a namespace, [Server.OfFunc] and
// [Server.OfRegexp] dynamic ones. Handlers: [Namespace.Use],
// [Namespace.OnConnection], then on each [Socket] On, Once, OnAny,
// OnDisconnect. Emitting: [Socket.Emit], [Socket.EmitAck],
// [Socket.EmitWithAck], and the [BroadcastOperator] from [Namespace.To],
// [Socket.To] and friends.
//
// An adapter in front of the network (package httpadapter) makes a [Conn]
// per Engine.IO session with [Server.NewConn] and drives it:
//
//   - inputs: HandlePayload, HandleFrame, HandleTimeout, HandleTransportClose,
//     and for the upgrade StartProbe, HandleProbeFrame, HandleProbeClose;
//   - outputs: TakeOutput, TakeProbeOutput;
//   - the timer: Deadline.
//
// Inputs of one Conn are serialised by the Conn; handlers run on the
// goroutine that delivered the input, so one client's events are handled in
// order. Emitting is safe from any goroutine: it queues frames and calls the
// wake function the adapter gave NewConn, which must not block; the adapter
// then takes the output and calls HandleTimeout, which also runs what a wake
// left pending (a close decided elsewhere, for example).
//
// # Wasm
//
// The package builds and its tests pass under GOOS=js GOARCH=wasm.
package core
