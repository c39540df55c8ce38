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
// [Dial] opens an Engine.IO client session over polling, WebSocket, or
// polling upgraded to WebSocket, and delivers its messages to a callback.
//
// It imports core/eio and github.com/coder/websocket.
package transport
