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
// An idle WebSocket session holds no goroutine. On Linux its reader parks
// the connection in one epoll instance for the process, right after the
// session's first messages and again once it has been silent for a
// second, and a new reader starts when bytes come (park.go, idle.go);
// elsewhere, and on TLS connections, the reader waits on a goroutine of
// its own with a shallow stack.
//
// # Client side
//
// [Dial] (or [NewClient] then [Client.Connect]) connects a Socket.IO client
// over polling, WebSocket, or polling upgraded to WebSocket, and reconnects
// with backoff; [Client.Socket] gives the [ClientSocket] of a namespace. The
// protocol is core/client's Manager; transport runs its sessions: a
// goroutine for the timer, and per session a poller and a writer, or a
// WebSocket reader and writer. The client side also builds under
// GOOS=js GOARCH=wasm: the WebSocket is the browser's and polling goes
// through fetch.
//
// # Application code
//
// A session whose handlers may block (core.Conn) has its sockets' turns run
// by the driver: the WebSocket reader runs the turn its message made ready,
// then writes what the turn sent, itself. One watch goroutine for the
// process hands reading (and writing) to new goroutines if that run is
// still going after five to ten milliseconds, or at once when the turn says
// it waits for its client (EmitWithAck); other turns get goroutines of
// their own (turns.go). The reader also stops reading while the session's
// inboxes are full (ReadPaused), which holds the peer back through TCP.
//
// On Linux a busy WebSocket reader handles its messages, and runs their
// turns, inside one read of the runtime's poller, so that a message costs
// one read system call, not two (fastread.go). A turn that blocks there is
// handed off as any other; the new reader reads through a second
// descriptor of the socket, and a Close meanwhile shuts the socket down at
// once.
//
// It imports core, core/client, core/eio, core/sio and
// github.com/coder/websocket.
package transport
