// Package transport moves bytes between the network and a session of core:
// HTTP long-polling and WebSocket, on the server side and the client side.
// It makes no protocol decision: what to send, when a session is dead, and
// what a frame means are core's; transport reads, writes, and wakes.
//
// # Server side
//
// A [Driver] serves one session ([Conn], which core.Conn implements): it
// owns the session's timer and wake-ups, answers its polling requests
// ([Driver.ServePoll], [Driver.ServePost]) and runs its WebSocket
// ([Driver.ServeWebSocket], [Driver.ServeProbe] for an upgrade).
//
// # Client side
//
// [Dial] (or [NewClient] then [Client.Connect]) connects a Socket.IO client
// over polling, WebSocket, or polling upgraded to WebSocket, and reconnects
// with backoff; [Client.Socket] gives the [ClientSocket] of a namespace. The
// protocol is core/client's Manager; transport runs its sessions: a
// goroutine for the timer, and per session a poller and a writer, or a
// WebSocket reader and writer.
//
// It imports core, core/client, core/eio, core/sio and
// github.com/coder/websocket.
package transport
