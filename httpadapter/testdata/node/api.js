// Client driver of the API tests (api_test.go): official clients, each
// under a name, that the Go test drives by commands and that report what
// they see. The same commands run against the Go server and against the
// reference server (apiserver.js), so that the test compares the two.
//
//   node api.js <base url>
//
// Commands, one JSON object per line on stdin:
//
//   {"cmd":"connect","name":"A","nsp":"/","auth":{...},"query":{...},
//    "transports":[...]}
//        (transports: default ["websocket"])
//        a new client (its own connection unless "manager" names a client
//        whose connection it shares) joins nsp; reports "connected"
//        {name, id} or "connect_error" {name, message, data}
//   {"cmd":"emit","name":"A","ev":"e","args":[...],"ack":true,"timeout":ms}
//        emits; with ack, reports "ack" {name, event, err, args}
//   {"cmd":"op","name":"A","op":{...}}
//        asks the server to run an operation (the "op" event with ack);
//        reports "op" {name, result}
//   {"cmd":"mark","name":"A","token":"t"}
//        asks the server to send "mark" to every socket, then each client
//        that receives it reports "mark" {name, token, log}: the events it
//        received since its previous mark, in order
//   {"cmd":"disconnect","name":"A"}   the client leaves its namespace
//
// Events the server sends are logged as [event, ...args]; when the server
// asks for an answer, the client answers {"from": name, "ev": event,
// "args": args} unless the event's name starts with "silent" or its first
// argument is {"silent": [names]} naming the client; when that argument is
// {"delay": ms}, it answers after ms. A client that is
// disconnected reports "disconnect" {name, reason, log}, log being what it
// received since its last mark.
//
// Each event is a JSON line on stdout: {"ev":"<name>", ...fields}; a
// failure is {"ev":"fatal","message":...} and exit status 1.
"use strict";

const readline = require("readline");
const path = require("path");
const { io } = require(path.join(__dirname, "node_modules", "socket.io-client"));

const [, , base] = process.argv;

function out(ev, fields = {}) {
  process.stdout.write(JSON.stringify(Object.assign({ ev }, fields)) + "\n");
}

function fatal(err) {
  out("fatal", { message: String((err && err.stack) || err) });
  process.exit(1);
}
process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);

const clients = new Map(); // name -> {sock, log}

function connect(msg) {
  const opts = { reconnection: false, forceNew: true };
  // WebSocket unless told: the reference drops a volatile packet whenever
  // no poll is pending, which would make the comparison a matter of timing.
  opts.transports = msg.transports || ["websocket"];
  if (msg.auth) opts.auth = msg.auth;
  if (msg.query) opts.query = msg.query;
  let sock;
  if (msg.manager) {
    sock = clients.get(msg.manager).sock.io.socket(msg.nsp || "/", { auth: msg.auth });
  } else {
    sock = io(base + (msg.nsp && msg.nsp !== "/" ? msg.nsp : ""), opts);
  }
  const c = { sock, log: [] };
  clients.set(msg.name, c);
  sock.on("connect", () => out("connected", { name: msg.name, id: sock.id }));
  sock.on("connect_error", (e) =>
    out("connect_error", { name: msg.name, message: e.message, data: e.data === undefined ? null : e.data })
  );
  sock.on("disconnect", (reason) => {
    out("disconnect", { name: msg.name, reason, log: c.log });
    c.log = [];
  });
  sock.on("mark", (token) => {
    out("mark", { name: msg.name, token, log: c.log });
    c.log = [];
  });
  sock.onAny((ev, ...args) => {
    if (ev === "mark") return;
    let cb = null;
    if (typeof args[args.length - 1] === "function") cb = args.pop();
    c.log.push([ev, ...args]);
    const quiet = ev.startsWith("silent") || (args[0] && Array.isArray(args[0].silent) && args[0].silent.includes(msg.name));
    const delay = (args[0] && args[0].delay) || 0;
    if (cb && !quiet) setTimeout(() => cb({ from: msg.name, ev, args }), delay);
  });
}

function emit(msg) {
  const { sock } = clients.get(msg.name);
  const args = msg.args || [];
  if (!msg.ack) {
    sock.emit(msg.ev, ...args);
    return;
  }
  const s = msg.timeout ? sock.timeout(msg.timeout) : sock;
  s.emit(msg.ev, ...args, (...ans) => {
    if (msg.timeout) {
      const err = ans.shift();
      out("ack", { name: msg.name, event: msg.ev, err: err ? err.message : null, args: ans });
    } else {
      out("ack", { name: msg.name, event: msg.ev, err: null, args: ans });
    }
  });
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  const msg = JSON.parse(line);
  switch (msg.cmd) {
    case "connect":
      connect(msg);
      break;
    case "emit":
      emit(msg);
      break;
    case "op":
      clients.get(msg.name).sock.emit("op", msg.op, (result) => out("op", { name: msg.name, result }));
      break;
    case "mark":
      clients.get(msg.name).sock.emit("op", { op: "mark", token: msg.token });
      break;
    case "disconnect":
      clients.get(msg.name).sock.disconnect();
      break;
    default:
      fatal(new Error("unknown command " + msg.cmd));
  }
});
process.stdin.on("end", () => process.exit(0)); // the test is done with us
