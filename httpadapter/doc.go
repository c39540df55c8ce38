// Package httpadapter serves sio over net/http: the [Server] is an
// http.Handler for Socket.IO, and [Engine] one for raw Engine.IO sessions.
// It owns what core leaves out: the clock, the goroutines, the routing of
// requests under the path, CORS, cookies, the reference's error answers,
// logging, and graceful shutdown.
//
// # Entry points
//
//	srv := httpadapter.New(httpadapter.Options{})
//	srv.Of("/").OnConnection(func(s *core.Socket) { ... })
//	http.Handle("/socket.io/", srv)
//	...
//	srv.Close(ctx)
//
// Debug traces: set SIO_DEBUG=1 (or DEBUG to a value containing "sio")
// to log every session event at debug level.
//
// It imports core, core/eio and transport.
package httpadapter
