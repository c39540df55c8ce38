// The reference server of the differential test (diff_test.go): the same
// namespaces and handlers as the Go server that test starts.
//
//   node diffserver.js '<options as JSON>'
//
// Options: pingInterval, pingTimeout, maxHttpBufferSize (the reference's
// names). It listens on a free loopback port, prints the port on stdout,
// and exits when its stdin closes.
//
//   "/"       "echo" acks its arguments back; "bcast" emits "bcast" with its
//             arguments to every socket of "/"; "bye" disconnects the socket
//             from the server side; "close" closes the whole connection
//   "/admin"  a middleware refuses unless auth is {token: "secret"}, with
//             message "not authorized" and data {reason: "bad token"}
"use strict";

const path = require("path");
const http = require("http");
const { Server } = require(path.join(__dirname, "node_modules", "socket.io"));

const opts = JSON.parse(process.argv[2] || "{}");
const httpServer = http.createServer();
const io = new Server(httpServer, opts);

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("bcast", (...args) => {
    if (typeof args[args.length - 1] === "function") args.pop();
    io.emit("bcast", ...args);
  });
  socket.on("bye", () => socket.disconnect());
  socket.on("close", () => socket.disconnect(true));
});

const admin = io.of("/admin");
admin.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token === "secret") return next();
  const err = new Error("not authorized");
  err.data = { reason: "bad token" };
  next(err);
});
admin.on("connection", () => {});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(httpServer.address().port + "\n");
});

process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
