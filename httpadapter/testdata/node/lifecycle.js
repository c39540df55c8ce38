// Official clients for the lifecycle tests (lifecycle_test.go).
//
//   node lifecycle.js <mode> <base url> [options as JSON]
//
// It reports what happens as JSON lines on stdout ({"ev":...}) and exits
// when its stdin closes.
//
//   big        one client emits "echo" with a string of opts.size bytes and
//              an ack: "acked" {len} or "disconnect" {reason}
//   receivers  opts.count clients listen for "bcast": "ready" once all are
//              connected, then "bcast" {i, args} and "disconnect" {i, reason}
"use strict";

const { io } = require("socket.io-client");

const [, , mode, base, optsJSON] = process.argv;
const opts = optsJSON ? JSON.parse(optsJSON) : {};

function out(ev, fields = {}) {
  process.stdout.write(JSON.stringify(Object.assign({ ev }, fields)) + "\n");
}
function fatal(err) {
  out("fatal", { message: String((err && err.stack) || err) });
  process.exit(1);
}
process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();

function client() {
  return io(base, Object.assign({ reconnection: false }, opts.client || {}));
}

const modes = {
  big() {
    const s = client();
    s.on("connect_error", (e) => out("connect_error", { message: e.message }));
    s.on("disconnect", (reason) => out("disconnect", { reason }));
    s.on("connect", () => {
      out("connect", { transport: s.io.engine.transport.name });
      s.emit("echo", "x".repeat(opts.size), (got) => out("acked", { len: got.length }));
    });
  },
  receivers() {
    let ready = 0;
    for (let i = 0; i < opts.count; i++) {
      const s = client();
      s.on("connect_error", (e) => out("connect_error", { i, message: e.message }));
      s.on("disconnect", (reason) => out("disconnect", { i, reason }));
      s.on("bcast", (...args) => out("bcast", { i, args }));
      s.once("connect", () => {
        if (++ready === opts.count) out("ready");
      });
    }
  },
};

const run = modes[mode];
if (!run) fatal("unknown mode " + mode);
run();
