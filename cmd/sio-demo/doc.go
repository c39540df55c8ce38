// Command sio-demo is sio's demo: a Socket.IO server with a live page, the
// many-session client that drives it, and the load bench.
//
//	sio-demo [flags]               the demo server (default): seq-num to each
//	                               client, s2c-event broadcasts, acks for
//	                               c2s-event, the page at /, /healthz,
//	                               /metrics; one process, or WEB_CONCURRENCY
//	                               workers on one port with the cluster bus
//	sio-demo client [flags]        the load tool: N sessions against a
//	                               server (seq-num gaps, s2c-event
//	                               deliveries, reconnects, ack latency), or
//	                               with -compare the bench
//	sio-demo bench [flags]         sio-demo client -compare: starts the bench
//	                               server and the reference server as
//	                               separate processes on 127.0.0.1 and
//	                               compares them
//	sio-demo serve [-addr :3000]   the bench server: an "echo" event that
//	                               acknowledges its arguments back, and a
//	                               "bcast" event that broadcasts its arguments
//	                               to every socket as event "b"
//
// "sio-demo -h" lists the demo server's flags and the environment variables
// that set their defaults (HOST, PORT, WEB_CONCURRENCY, REDIS_URL,
// SERVER2CLIENT_MESSAGE_INTERVAL_MSECS, BROADCAST_MESSAGE_INTERVAL_MSECS).
//
// # What it owns, what it imports
//
// The demo server (settings.go, demo.go, run.go: the master and its
// workers, bus.go: the cluster bus), the live page (page.go and the
// embedded web/ folder: the page, its styles and sio.js, a small
// Engine.IO/Socket.IO client in JavaScript), the Go client for the browser
// (wasmclient/: package transport's client, built on demand with GOOS=js
// GOARCH=wasm), and the load tool (multiclient.go on sio's Go client;
// bench.go, client.go, report.go and servers.go for -compare). It may
// import every package of sio.
//
// Entry points: run (main.go) dispatches the commands; demoMain,
// loadMain and serveMain are the commands.
//
// # The bench (sio-demo client -compare)
//
// The servers are measured one after the other, each in a process of its
// own (this program re-executed as "serve", and testdata/refserver.js for
// the reference server), so that /proc gives each one's resident memory (VmRSS) and CPU
// time (utime+stime). The load generator is a lean Engine.IO/Socket.IO
// client over WebSocket in this package; it only ever connects to
// 127.0.0.1, and every wait it makes is bounded. For each server:
//
//  1. warm-up: 100 clients connect, echo and broadcast, and leave;
//  2. idle memory: RSS with -conns idle connections (each connected to
//     "/") minus RSS with none, over -conns; each reading follows an idle
//     wait (-settle) and, with -forcegc, a full collection requested from
//     the server (GET /debug/gc: runtime.GC plus debug.FreeOSMemory here,
//     the runtime's full collection in the reference server);
//  3. acks: -clients clients send "echo" with an ack in a closed loop;
//     over a -duration window after -warmup: round trips per second,
//     p50/p99 latency, the server's CPU seconds and round trips per server
//     CPU-second;
//  4. broadcast: -bclients clients; one of them sends "bcast" with a
//     -payload byte string, keeping at most -inflight broadcasts not yet
//     received by every client; over the window: deliveries (packets
//     received, all clients together) per second, the server's CPU
//     seconds, deliveries per server CPU-second.
//
// The table gives each figure for both servers and the Go server's
// advantage: Go/reference for throughputs, reference/Go for memory, latency
// and time, so that above 1 always means the Go server does better. It also
// shows the CPU that other processes used during each window (a busy
// machine disturbs the figures) and the servers' read and write system
// calls per operation. -json prints everything as JSON; -profile DIR saves
// the Go server's heap, CPU, allocation and scheduling profiles of each
// phase, for go tool pprof and go tool trace.
package main
