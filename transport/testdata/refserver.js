// The reference Socket.IO server for the Go client's interoperability
// tests. It listens on a free loopback port, prints the port on stdout,
// and exits when its stdin closes.
//
//   "echo"      acks its arguments back
//   "binary"    emits "binary" back with binary values, and acks its own
//               arguments
//   "ask"       emits "question" to the client with an ack, and emits the
//               client's answer back as "answer"
//   "bye"       disconnects the socket from the server side
//   /admin      a namespace whose middleware wants auth {token: "secret"},
//               refusing with message "not authorized" and data
//               {reason: "bad token"}
"use strict";

const path = require("path");
const http = require("http");

const modules = path.join(__dirname, "..", "..", "httpadapter", "testdata", "node", "node_modules");
const { Server } = require(path.join(modules, "socket.io"));

const httpServer = http.createServer();
const io = new Server(httpServer, { pingInterval: 300, pingTimeout: 1000 });

function handlers(socket) {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") {
      ack(...args);
    }
  });
  socket.on("binary", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    socket.emit("binary", Buffer.from([1, 2, 3]), { nested: Buffer.from([4, 5]), text: "t" });
    if (ack) {
      ack(...args);
    }
  });
  socket.on("ask", (q) => {
    socket.timeout(5000).emit("question", q, Buffer.from([7]), (err, answer) => {
      socket.emit("answer", err ? "error: " + err.message : answer);
    });
  });
  socket.on("bye", () => socket.disconnect());
}

io.on("connection", handlers);

const admin = io.of("/admin");
admin.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token === "secret") {
    next();
    return;
  }
  const err = new Error("not authorized");
  err.data = { reason: "bad token" };
  next(err);
});
admin.on("connection", (socket) => {
  handlers(socket);
  socket.emit("welcome", socket.handshake.auth.token);
});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(httpServer.address().port + "\n");
});

process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
