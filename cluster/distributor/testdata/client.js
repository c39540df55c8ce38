// Client driver for the distributor's end-to-end tests.
//
//   node client.js
//
// Commands arrive as JSON lines on stdin; what the official client sees
// leaves as JSON lines on stdout, one event per line: {"ev":..., "c":<client>}.
//
//   {"cmd":"connect","c":"a","url":"http://...","nsp":"/chat","auth":{...},"opts":{...}}
//       with "mgr":"m1", the sockets of manager m1 share one connection
//   {"cmd":"emit","c":"a","seq":1,"event":"x","args":[...],"ack":true,"timeout":2000}
//   {"cmd":"disconnect","c":"a"}
//   {"cmd":"reconnect","c":"a"}              socket.connect() again (after "io server disconnect")
//   {"cmd":"drop","c":"a"}                   closes the client's Engine.IO connection
//   {"cmd":"close"}                          every client, then exit
//
// Events: connect {id}, connect_error {message, data}, disconnect {reason},
// event {name, args}, ack {seq, args} or {seq, err}. An event from the
// server that asks for an acknowledgement is answered with
// ["ack:<name>", ...its arguments], unless its name starts with "silent";
// one whose name starts with "slow" is answered after args[0] ms.
// With "fallback":"<url>", reconnects go to that url. Binary values travel as {"$bin":"<hex>"}.
"use strict";

const readline = require("readline");
const { io, Manager } = require("socket.io-client");

function out(ev, fields) {
  process.stdout.write(JSON.stringify(Object.assign({ ev }, fields)) + "\n");
}
function fatal(err) {
  out("fatal", { message: String((err && err.stack) || err) });
  process.exit(1);
}
process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);

function describe(v) {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    return { $bin: Buffer.from(v.buffer ? v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) : v).toString("hex") };
  }
  if (Array.isArray(v)) return v.map(describe);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = describe(v[k]);
    return o;
  }
  return v;
}
function revive(v) {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string") return Buffer.from(v.$bin, "hex");
    const o = {};
    for (const k of Object.keys(v)) o[k] = revive(v[k]);
    return o;
  }
  return v;
}

const clients = new Map();
const managers = new Map();

function connect(m) {
  let s;
  if (m.mgr) {
    // Sockets of one manager share one connection.
    let mgr = managers.get(m.mgr);
    if (!mgr) {
      mgr = new Manager(m.url, Object.assign({ transports: ["websocket"] }, m.opts || {}));
      managers.set(m.mgr, mgr);
    }
    // The manager connects its sockets as they are made (autoConnect): a
    // second connect() would send a second CONNECT once it is open.
    s = mgr.socket(m.nsp || "/", { auth: m.auth || {} });
  } else {
    s = io(m.url + (m.nsp || "/"), Object.assign({ auth: m.auth || {}, transports: ["websocket"], forceNew: true }, m.opts || {}));
  }
  clients.set(m.c, s);
  s.on("connect", () => out("connect", { c: m.c, id: s.id }));
  s.on("connect_error", (err) => out("connect_error", { c: m.c, message: err.message, data: err.data === undefined ? null : describe(err.data) }));
  s.on("disconnect", (reason) => {
    // A load balancer that dropped a dead server: reconnects go to m.fallback.
    if (m.fallback) s.io.uri = m.fallback;
    out("disconnect", { c: m.c, reason });
  });
  s.onAny((name, ...args) => {
    const last = args[args.length - 1];
    if (typeof last === "function" && name.startsWith("silent")) {
      args.pop();
      out("event", { c: m.c, name, args: describe(args), acked: false });
      return;
    }
    if (typeof last === "function" && name.startsWith("slow")) {
      args.pop();
      out("event", { c: m.c, name, args: describe(args), acked: true });
      setTimeout(() => last("ack:" + name, ...args), args[0]);
      return;
    }
    if (typeof last === "function") {
      args.pop();
      out("event", { c: m.c, name, args: describe(args), acked: true });
      last("ack:" + name, ...args);
      return;
    }
    out("event", { c: m.c, name, args: describe(args) });
  });
}

function emit(m) {
  const s = clients.get(m.c);
  const args = revive(m.args || []);
  if (!m.ack) {
    s.emit(m.event, ...args);
    return;
  }
  const target = m.timeout ? s.timeout(m.timeout) : s;
  target
    .emitWithAck(m.event, ...args)
    .then((res) => out("ack", { c: m.c, seq: m.seq, args: describe([res]) }))
    .catch((err) => out("ack", { c: m.c, seq: m.seq, err: String((err && err.message) || err) }));
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  const m = JSON.parse(line);
  switch (m.cmd) {
    case "connect":
      return connect(m);
    case "emit":
      return emit(m);
    case "reconnect":
      return clients.get(m.c).connect();
    case "disconnect":
      return clients.get(m.c).disconnect();
    case "drop": // the connection ends under the socket (it reconnects)
      return clients.get(m.c).io.engine.close();
    case "close":
      for (const s of clients.values()) s.disconnect();
      setTimeout(() => process.exit(0), 50);
      return;
  }
});
process.stdin.on("end", () => {
  for (const s of clients.values()) s.disconnect();
  setTimeout(() => process.exit(0), 50);
});
