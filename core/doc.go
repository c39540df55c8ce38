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
// # The dispatch model: handlers may block
//
// Inputs of one Conn are serialised by the Conn and never run application
// code. What a client sends for a socket becomes a turn in that socket's
// inbox: its middlewares with its CONNECT answer, then each event's
// handlers, the callbacks of its EmitAck calls, and its disconnect
// handlers, in arrival order. Core says when a socket has turns ready and
// nothing is running them by calling Config.Go; the adapter runs the
// function it is given on a goroutine of its own, which drains the inbox
// and ends when it is empty. So a handler may block (EmitWithAck, a
// FetchSockets across nodes, a database call, a sleep): its connection
// keeps reading, answering heartbeats, resolving acknowledgements and
// firing their timeouts on the adapter's goroutines, and every other socket
// carries on. One socket's turns run one at a time, in order; an idle
// connection still costs the adapter one goroutine, its reader.
//
// Acknowledgements are resolved on the goroutine that reads the answer (or
// fires the timeout): EmitWithAck's waiter is released there, and the
// callbacks given to EmitAck are queued as turns of their socket. The
// callbacks of broadcast acknowledgements run through Config.Go as well.
//
// Requests to the other nodes of a cluster (FetchSockets,
// ServerSideEmitWithAck) are timed by the adapter, not by core: it knows
// which nodes did not answer, and its error may be of its own type that
// names them. For a server-side emit that error still matches
// ErrAckTimeout (errors.Is); see Adapter.ServerSideEmit.
//
// The inbox is bounded (Config.Inbox). When a socket's inbox is full,
// Conn.ReadPaused asks the adapter to stop reading the connection until the
// handlers catch up, so memory stays bounded and the pressure reaches the
// client through TCP; a client that floods a handler waiting for that same
// client's answer is ended by its heartbeat, whose pongs go unread.
//
// Emitting is safe from any goroutine: it queues frames and calls the wake
// function the adapter gave NewConn, which must not block; the adapter then
// takes the output and calls HandleTimeout, which also runs what a wake
// left pending (a close decided elsewhere, for example). Without Config.Go
// (core's own tests on a virtual clock) turns run at once on the goroutine
// that delivered the input, and handlers must not block.
//
// # Wasm
//
// The package builds and its tests pass under GOOS=js GOARCH=wasm.
package core
