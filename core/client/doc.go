// Package client is the Socket.IO v5 client as an I/O-free state machine:
// a [Manager] over one Engine.IO client session at a time, the sockets it
// carries (one per namespace, with their auth payload), events and
// acknowledgements both ways with binary attachments, the disconnect
// reasons the reference client reports, and reconnection with exponential
// backoff and jitter.
//
// It imports core, core/eio, core/sio and the standard library: no network,
// no goroutines, no sleeps, no clock. Time arrives as the now argument of
// every input, and the caller asks [Manager.Deadline] when it must next call
// [Manager.HandleTimeout]. Acknowledgement timeouts are given as deadlines.
//
// # Entry points
//
// [NewManager] makes the manager; [Manager.Socket] the socket of a
// namespace, on which On, Once, OnAny, OnConnect, OnConnectError,
// OnDisconnect register handlers, Connect joins, Emit, EmitAck and EmitWith
// send, and Disconnect leaves.
//
// The network side (package transport) runs the Engine.IO sessions the
// manager asks for:
//
//   - dialing: after every wake-up, [Manager.TakeDial] hands out the
//     [Engine] to connect, if any, on its Transport;
//   - inputs, on that Engine: HandlePayload (a polling response body),
//     HandleFrame (a WebSocket frame), HandleTransportClose, and for an
//     upgrade StartProbe, HandleProbeFrame, HandleProbeClose, CompleteUpgrade
//     once PollingPaused and no request is in flight;
//   - outputs: TakeFinalOutputOn for a writer (packets for the active
//     transport, and whether the session is closed and flushed: a writer
//     ends on that, never on Closed asked apart), TakeOutputOn,
//     TakeProbeOutput (packets for the WebSocket being probed);
//   - the timer: Manager.Deadline, then Manager.HandleTimeout.
//
// # Concurrency
//
// Inputs are serialised by the manager, and handlers run on the goroutine
// that delivered the input, with no lock of the manager held: one
// connection's events are handled in order. Commands (Emit, Connect,
// Disconnect, handler registration) are safe from any goroutine, handlers
// included; they queue packets and call Config.Wake, which must not block.
// A handler must not wait for another input of the same manager (an
// acknowledgement, say): inputs wait for it to return.
//
// # Wasm
//
// The package builds and its tests pass under GOOS=js GOARCH=wasm.
package client
