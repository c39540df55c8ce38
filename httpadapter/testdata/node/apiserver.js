// The reference server of the API tests (api_test.go): the namespaces,
// middlewares and handlers that apiSetup declares on the Go server, so that
// the same client commands (api.js) can be compared on both.
//
//   node apiserver.js
//
// It listens on a free loopback port, prints the port on stdout, and exits
// when its stdin closes.
//
// Namespaces: "/" (a server-level middleware refuses auth.deny), "/admin"
// (a middleware refuses auth.token other than "secret"), and the dynamic
// family /^\/dyn-\d+$/ (a parent middleware refuses auth.denyDyn). Every
// socket: takes auth.data as its data and joins auth.rooms; records what
// it sends (onAnyOutgoing); answers "echo" with its arguments and "x" with
// "x-handled"; runs the operations the client asks for with "op" (see run).
"use strict";

const path = require("path");
const http = require("http");
const { Server } = require(path.join(__dirname, "node_modules", "socket.io"));

const httpServer = http.createServer();
const io = new Server(httpServer);

io.use((socket, next) => {
  if (socket.handshake.auth.deny) {
    const err = new Error("denied");
    err.data = { why: "deny" };
    return next(err);
  }
  next();
});
io.on("connection", setup);

const admin = io.of("/admin");
admin.use((socket, next) => {
  if (socket.handshake.auth.token === "secret") return next();
  const err = new Error("not authorized");
  err.data = { reason: "bad token" };
  next(err);
});
admin.on("connection", setup);

const parent = io.of(/^\/dyn-\d+$/);
parent.use((socket, next) => next(socket.handshake.auth.denyDyn ? new Error("dyn denied") : undefined));
parent.on("connection", setup);

function setup(socket) {
  const auth = socket.handshake.auth || {};
  if (auth.data !== undefined) socket.data = auth.data;
  if (auth.rooms) socket.join(auth.rooms);
  const outgoing = [];
  socket.onAnyOutgoing((...args) => {
    if (typeof args[args.length - 1] === "function") args.pop();
    outgoing.push(args);
  });
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("x", (ack) => typeof ack === "function" && ack("x-handled"));
  socket.on("op", async (o, ack) => {
    const result = await run(socket, o, outgoing);
    if (typeof ack === "function") ack(result === undefined ? null : result);
  });
}

function baseOf(socket, o) {
  switch (o.base) {
    case "server":
      return io;
    case "nsp":
      return io.of(o.nsp || socket.nsp.name);
    case "parent":
      return parent;
    case "socket":
      return socket;
  }
  throw new Error("unknown base " + o.base);
}

// operator applies o.chain to o.base: [["to", [rooms]], ["in", [...]],
// ["except", [...]], ["volatile"], ["local"], ["compress", bool],
// ["timeout", ms]]; an empty chain on a socket is socket.broadcast.
function operator(socket, o) {
  let op = baseOf(socket, o);
  const chain = o.chain || [];
  if (chain.length === 0 && o.base === "socket") return socket.broadcast;
  for (const [name, arg] of chain) {
    switch (name) {
      case "to":
      case "in":
      case "except":
      case "compress":
      case "timeout":
        op = op[name](arg);
        break;
      case "volatile":
      case "local":
        op = op[name];
        break;
      default:
        throw new Error("unknown step " + name);
    }
  }
  return op;
}

// errText is an error's message; a reserved name shows as "reserved" (the
// Go server's text differs).
function errText(e) {
  return /is a reserved event name/.test(e.message) ? "reserved" : e.message;
}

function describe(s) {
  return { id: s.id, rooms: [...s.rooms], data: s.data, auth: s.handshake.auth, local: !!s.server };
}

async function run(socket, o, outgoing) {
  switch (o.op) {
    case "mark":
      io._nsps.forEach((n) => n.emit("mark", o.token));
      return;
    case "emit":
      try {
        operator(socket, o).emit(o.ev, ...(o.args || []));
        return { err: false };
      } catch (e) {
        return { err: true };
      }
    case "emitAck":
      try {
        // emit with a callback, as emitWithAck does (a namespace has only
        // the former).
        const op = operator(socket, o);
        const responses = await new Promise((resolve, reject) =>
          op.emit(o.ev, ...(o.args || []), (err, responses) => {
            if (err) {
              err.responses = responses;
              reject(err);
            } else resolve(responses);
          })
        );
        return { err: null, responses };
      } catch (e) {
        return { err: errText(e), responses: e.responses || [] };
      }
    case "fetch":
      return (await operator(socket, o).fetchSockets()).map(describe);
    case "join":
      operator(socket, o).socketsJoin(o.rooms);
      return;
    case "leave":
      operator(socket, o).socketsLeave(o.rooms);
      return;
    case "disconnect":
      operator(socket, o).disconnectSockets(o.close);
      return;
    case "sse":
      try {
        baseOf(socket, o).serverSideEmit(o.ev, ...(o.args || []));
        return { err: false };
      } catch (e) {
        return { err: true };
      }
    case "remote": {
      const found = await operator(socket, o).fetchSockets();
      const results = [];
      for (const s of found) {
        const a = o.action;
        switch (a.do) {
          case "emit":
            s.emit(a.ev, ...(a.args || []));
            break;
          case "emitAck":
            try {
              results.push({ id: s.id, err: null, answer: await s.timeout(a.timeout).emitWithAck(a.ev, ...(a.args || [])) });
            } catch (e) {
              results.push({ id: s.id, err: e.message, answer: null });
            }
            break;
          case "join":
            s.join(a.rooms);
            break;
          case "leave":
            for (const r of a.rooms) s.leave(r);
            break;
          case "disconnect":
            s.disconnect(a.close);
            break;
        }
      }
      return results;
    }
    case "sockEmit": {
      // The calling socket itself, with flags: volatile, compress, timeout.
      let s = socket;
      for (const [name, arg] of o.chain || []) {
        if (name === "volatile") s = s.volatile;
        else s = s[name](arg);
      }
      if (!o.ack) {
        s.emit(o.ev, ...(o.args || []));
        return;
      }
      try {
        return { err: null, answer: await s.emitWithAck(o.ev, ...(o.args || [])) };
      } catch (e) {
        return { err: e.message, answer: null };
      }
    }
    case "off":
      socket.removeAllListeners(o.ev);
      return;
    case "outgoing":
      return outgoing.splice(0);
    case "rooms":
      return [...io.of(o.nsp || socket.nsp.name).adapter.rooms.keys()];
    case "sockets":
      return [...(await io.of(o.nsp || socket.nsp.name).adapter.sockets(new Set(o.rooms || [])))];
    case "apply": {
      const ids = [];
      io.of(o.nsp || socket.nsp.name).adapter.apply(
        { rooms: new Set(o.rooms || []), except: new Set(o.except || []) },
        (s) => ids.push(s.id)
      );
      return ids;
    }
    case "hasRoom":
      return io.of(o.nsp || socket.nsp.name).adapter.rooms.has(o.rooms[0]);
    case "nextAckId":
      return io.of(o.nsp || socket.nsp.name)._ids++;
    case "parentUse":
      // A middleware added to the dynamic parent now, when children exist.
      parent.use((s, next) => next(s.handshake.auth.late ? new Error("late") : undefined));
      return;
  }
  throw new Error("unknown op " + o.op);
}

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(httpServer.address().port + "\n");
});

process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
