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
//	                               server, the reference server and the
//	                               plain WebSocket ceiling as separate
//	                               processes on 127.0.0.1 and compares them
//	sio-demo serve [-addr :3000]   the bench server: an "echo" event that
//	                               acknowledges its arguments back, and a
//	                               "bcast" event that broadcasts its arguments
//	                               to every socket as event "b"; -plain serves
//	                               them without Socket.IO (plain.go)
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
// GOARCH=wasm), and the load tool (load.go: its flags and its two modes;
// multiclient.go on sio's Go client against a URL; bench.go, client.go,
// servers.go and plain.go for -compare; report.go: the one report of
// both). It may import every package of sio.
//
// Entry points: run (main.go) dispatches the commands; demoMain,
// loadMain and serveMain are the commands.
//
// # The report
//
// Both modes print one report (report.go): a column per server and a row
// per figure, grouped in phases; -json prints the same as JSON (servers,
// phases, rows with a value per server, null where not measured, and the
// first server's ratio to each other one). A figure has one key, text and
// unit in every phase and both modes (metricDefs): ack_p50_ms is an ack's
// round trip in milliseconds whether demo sessions sent c2s-event or bench
// clients sent echo. Against a URL the report has one column, "server",
// with a phase "sessions", and the server's CPU and memory are absent (the
// tool cannot see that process). With -compare it has a column per server
// of -only (go, ref, plain) and the phases idle, ack-N (one per -clients
// entry) and broadcast.
//
// # The bench (sio-demo client -compare)
//
// The servers are measured one after the other, each in a process of its
// own (this program re-executed as "serve", and testdata/refserver.js for
// the reference server), so that /proc gives each one's resident memory
// (VmRSS) and CPU time (utime+stime). The load generator is a lean
// Engine.IO/Socket.IO client over WebSocket in this package; it only ever
// connects to 127.0.0.1, and every wait it makes is bounded. The servers are sio's bench server ("go"), the reference server ("ref")
// and the ceiling ("plain": the same two events on a bare WebSocket
// server, with no Engine.IO or Socket.IO, so that each run shows what the
// protocol costs above the socket). For each server:
//
//  1. warm-up: 100 clients connect, echo and broadcast, and leave;
//  2. idle memory: RSS with -conns idle connections (each connected to
//     "/") minus RSS with none, over -conns; each reading follows an idle
//     wait (-settle) and, with -forcegc, a full collection requested from
//     the server (GET /debug/gc: runtime.GC plus debug.FreeOSMemory here,
//     the runtime's full collection in the reference server);
//  3. acks, once for each entry N of -clients (default 1,100): N clients
//     send "echo" with an ack in a closed loop; over a -duration window
//     after -warmup: round trips per second, p50 to max latency, the
//     server's CPU seconds and round trips per server CPU-second;
//  4. broadcast: -bclients clients; one of them sends "bcast" with a
//     -payload byte string, keeping at most -inflight broadcasts not yet
//     received by every client; over the window: deliveries (packets
//     received, all clients together) per second, the server's CPU
//     seconds, deliveries per server CPU-second.
//
// The table gives each figure for every server and the Go server's
// advantage over each other one: go/X for throughputs, X/go for memory,
// latency and time, so that above 1 always means the Go server does
// better; the targets are against the reference server. It also
// shows the CPU that other processes used during each window (a busy
// machine disturbs the figures), the servers' read and write system
// calls per operation, and their CPU per operation split into user mode
// and the kernel (utime and stime): the kernel's share is that of the
// system calls, which every server pays alike for the same calls, and
// the user share is the code each runs between them. -json prints
// everything as JSON; -profile DIR saves
// the Go server's heap, CPU, allocation and scheduling profiles of each
// phase, for go tool pprof and go tool trace.
//
// One run of each server is at the mercy of the machine: on a shared
// virtual machine two identical runs differ by up to a fifth. -rounds N
// measures every server N times, in turns, each round starting one
// server later, and reports each figure's median over the rounds; each
// advantage is that of the medians, its value in every round beside it.
// The profiles are those of the first round. To measure a change, name
// the build before it as the base server: -only go,base -basebin OLD
// compares this build with OLD in the same run.
package main
