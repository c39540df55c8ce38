// The reference server with the behaviour of "sio-demo serve", for the bench:
// "echo" acknowledges its arguments back unchanged, "bcast" broadcasts its
// arguments to every socket of "/" (the sender included) as event "b".
//
// usage: node [--expose-gc] refserver.js [port]
// It listens on 127.0.0.1 (port 0 picks a free one) and prints
// "listening on 127.0.0.1:PORT". GET /debug/gc runs a full collection when
// the runtime exposes one (--expose-gc), as the Go server's endpoint does.
"use strict";

const http = require("http");
const path = require("path");
const { Server } = require(path.join(
  __dirname,
  "../../../httpadapter/testdata/node/node_modules/socket.io"
));

const port = Number(process.argv[2] || 0);

const httpServer = http.createServer((req, res) => {
  if (req.url === "/debug/gc") {
    if (typeof global.gc !== "function") {
      res.writeHead(501);
      res.end("no gc: start with --expose-gc\n");
      return;
    }
    global.gc();
    res.end("ok\n");
    return;
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(httpServer);

// The handlers are made once and shared by every socket.
function echo(...args) {
  const ack = args[args.length - 1];
  if (typeof ack === "function") {
    ack(...args.slice(0, -1));
  }
}

function bcast(...args) {
  if (typeof args[args.length - 1] === "function") {
    args.pop();
  }
  io.emit("b", ...args);
}

io.on("connection", (socket) => {
  socket.on("echo", echo);
  socket.on("bcast", bcast);
});

httpServer.listen(port, "127.0.0.1", () => {
  const a = httpServer.address();
  console.log(`listening on ${a.address}:${a.port}`);
});

function shutdown() {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
