// Scenario runner for the interoperability tests of package httpadapter.
//
//   node scenario.js <scenario> <base url> [options as JSON]
//
// The script drives the official client against the Go server under test
// and reports what happens as JSON lines on stdout, one event per line:
// {"ev":"<name>", ...fields}. The Go test reads them as events. Commands
// from the Go test arrive the same way on stdin ({"cmd":"<name>", ...}).
// Any failure inside the script is reported as {"ev":"fatal","message":...}
// and ends the process with status 1.
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

const [, , scenario, base, optsJSON] = process.argv;
const opts = optsJSON ? JSON.parse(optsJSON) : {};
const T0 = Date.now();

function out(ev, fields = {}) {
  process.stdout.write(JSON.stringify(Object.assign({ ev, t: Date.now() - T0 }, fields)) + "\n");
}

function fatal(err) {
  out("fatal", { message: String((err && err.stack) || err) });
  process.exit(1);
}
process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);

// Commands from the Go test.
const handlers = new Map();
const queued = new Map();
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  const msg = JSON.parse(line);
  const h = handlers.get(msg.cmd);
  if (h) h(msg);
  else queued.set(msg.cmd, (queued.get(msg.cmd) || []).concat([msg]));
});
process.stdin.on("end", () => process.exit(0)); // the test is done with us

function onCmd(name, fn) {
  handlers.set(name, fn);
  for (const msg of queued.get(name) || []) fn(msg);
  queued.delete(name);
}

function once(emitter, ev) {
  return new Promise((resolve) => emitter.once(ev, (...args) => resolve(args)));
}

function hex(b) {
  return Buffer.from(b).toString("hex");
}

// describe turns a received value into JSON the Go test can check: every
// binary value becomes {"$bin":"<hex>","buffer":<is a Buffer>}.
function describe(v) {
  if (Buffer.isBuffer(v)) return { $bin: hex(v), buffer: true };
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return { $bin: hex(new Uint8Array(v.buffer || v)), buffer: false };
  if (Array.isArray(v)) return v.map(describe);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = describe(v[k]);
    return o;
  }
  return v;
}

function client(path, extra = {}) {
  return io(base + (path || ""), Object.assign({ reconnection: false }, opts.client || {}, extra));
}

const scenarios = {
  // Connect, optionally wait for the upgrade, then one emit with ack.
  async transports() {
    const s = client();
    s.on("connect_error", (e) => out("connect_error", { message: e.message }));
    let upgraded = null;
    if (opts.waitUpgrade) {
      upgraded = new Promise((resolve) => {
        s.io.on("open", () => {
          s.io.engine.on("upgrade", (t) => {
            // At the upgrade event the engine's transport must already be
            // the new one.
            out("upgrade", { transport: s.io.engine.transport.name, upgradedTo: t.name });
            resolve();
          });
        });
      });
    }
    await once(s, "connect");
    out("connect", { id: s.id, transport: s.io.engine.transport.name, engineId: s.io.engine.id });
    if (upgraded) await upgraded;
    const ans = await s.emitWithAck("echo", "hello");
    out("acked", { ans, transport: s.io.engine.transport.name });
    s.disconnect();
    out("end");
  },

  // Events and acknowledgements in both directions, and timeouts.
  async events() {
    const s = client();
    s.on("s2c", (...args) => out("s2c", { args }));
    s.on("question", (q, cb) => cb("reply-to-" + q, 7));
    s.on("question2", (q, cb) => cb({ q, ok: true }));
    s.on("silent-ask", (v) => out("silent-ask", { v })); // never answers
    await once(s, "connect");
    out("connect", { id: s.id });
    s.emit("c2s", 1, "two", { three: [3] }, null, true);
    const ans = await new Promise((resolve) => s.emit("ask", "q1", (...a) => resolve(a)));
    out("ack", { args: ans });
    const t = Date.now();
    s.timeout(100).emit("never-acked", "x", (err, ...rest) => {
      out("client-timeout", { message: err ? err.message : null, rest, elapsed: Date.now() - t });
    });
    await once(s, "finish");
    s.disconnect();
    out("end");
  },

  // Binary in both directions.
  async binary() {
    const s = client();
    s.on("bin", (...args) => out("bin", { args: args.map(describe) }));
    s.on("bin-ask", (v, cb) => {
      out("bin-ask", { v: describe(v) });
      cb({ reply: Buffer.from([9, 8, 7]), list: [Buffer.from("ack"), 1] });
    });
    await once(s, "connect");
    const all = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) all[i] = i;
    const big = Buffer.alloc(100000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    s.emit(
      "up",
      {
        name: "first",
        data: all,
        nested: { inner: Buffer.from([1, 2, 3]), list: [Buffer.from([4]), Buffer.alloc(0)] },
      },
      { a: Buffer.from([0xde, 0xad]), b: [Buffer.from([0xbe, 0xef]), "s", 2], c: { d: big } }
    );
    const ans = await new Promise((resolve) => s.emit("up-ask", Buffer.from("question"), (...a) => resolve(a)));
    out("up-ack", { args: ans.map(describe) });
    await once(s, "finish");
    s.disconnect();
    out("end");
  },

  // The main and a custom namespace on one Manager; a dynamic namespace.
  async namespaces() {
    const root = client("");
    const admin = client("/admin");
    const dyn = client("/dyn-42");
    const bad = client("/dyn-x");
    dyn.on("welcome", (name) => out("welcome", { name }));
    bad.on("connect_error", (e) => out("bad", { message: e.message }));
    await Promise.all([once(root, "connect"), once(admin, "connect"), once(dyn, "connect")]);
    out("connected", {
      sameManager: root.io === admin.io && root.io === dyn.io,
      engineId: root.io.engine.id,
      root: root.id,
      admin: admin.id,
      dyn: dyn.id,
    });
    await once(root, "finish");
    root.io.engine.close();
    out("end");
  },

  // Rooms and exceptions: three clients report what they received.
  async rooms() {
    const names = ["A", "B", "C"];
    const socks = names.map(() => client("", { forceNew: true }));
    const got = names.map(() => []);
    socks.forEach((s, i) => {
      s.on("m", (v) => got[i].push(v));
      s.on("report", () => out("got", { name: names[i], list: got[i] }));
    });
    await Promise.all(socks.map((s) => once(s, "connect")));
    await Promise.all(socks.map((s, i) => s.emitWithAck("hello", names[i], i < 2)));
    out("ready");
    onCmd("close", () => {
      socks.forEach((s) => s.disconnect());
      out("end");
    });
  },

  // Middleware refusal with data, and the auth payload.
  async auth() {
    const badSock = client("", { forceNew: true, auth: { token: "bad" } });
    const [err] = await once(badSock, "connect_error");
    out("refused", { message: err.message, data: err.data === undefined ? null : err.data });
    const good = client("", { forceNew: true, auth: { token: "good", n: 1 } });
    good.on("connect_error", (e) => out("unexpected-refusal", { message: e.message }));
    await once(good, "connect");
    out("accepted", { id: good.id });
    good.disconnect();
    badSock.close();
    out("end");
  },

  // Connect, then report the disconnect reason (heartbeat through a proxy).
  async heartbeat() {
    const s = client();
    s.on("disconnect", (reason, desc) => out("disconnect", { reason, desc: desc && desc.description }));
    s.io.on("ping", () => out("ping"));
    await once(s, "connect");
    out("connect", { id: s.id, transport: s.io.engine.transport.name });
  },

  // Reconnection after the server restarts.
  async restart() {
    const s = client("", { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100, randomizationFactor: 0 });
    let n = 0;
    s.on("disconnect", (reason) => out("disconnect", { reason }));
    s.io.on("reconnect", (attempt) => out("reconnect", { attempt }));
    s.on("connect", () => {
      n++;
      out("connect", { n, id: s.id });
      s.timeout(5000).emit("hello", n, (err, ...ans) => {
        if (err) out("hello-error", { n, message: err.message });
        else out("hello-ack", { n, ans });
      });
    });
  },

  // Many clients in one process, each checking it got every broadcast once,
  // in order.
  // Handlers that block on the server: a slow one while the heartbeat
  // goes on, one that asks the client back (EmitWithAck) for an answer and
  // for a timeout, and a broadcast with ack from inside a handler.
  async blocking() {
    const s = client();
    let pings = 0;
    s.io.on("ping", () => pings++);
    s.on("disconnect", (reason) => out("disconnect", { reason }));
    s.on("question", (q, cb) => cb("reply-to-" + q));
    s.on("bq", (cb) => cb("b-reply"));
    s.on("silent", () => {}); // never answers
    await once(s, "connect");
    out("connect", { id: s.id, transport: s.io.engine.transport.name });
    const slow = await s.timeout(30000).emitWithAck("slow");
    out("slow", { ans: slow, pings, transport: s.io.engine.transport.name });
    out("ask", { ans: await s.timeout(30000).emitWithAck("ask", "q1") });
    out("ask-timeout", { ans: await s.timeout(30000).emitWithAck("ask-timeout") });
    out("ask-all", { ans: await s.timeout(30000).emitWithAck("ask-all") });
    s.disconnect();
    out("end");
  },

  // A flood of events at a handler that blocks until the test says; then
  // every event must be handled, in order.
  async flood() {
    const s = client();
    s.on("disconnect", (reason) => out("disconnect", { reason }));
    await once(s, "connect");
    out("connect", { id: s.id, transport: s.io.engine.transport.name });
    const pad = "x".repeat(opts.size);
    for (let i = 0; i < opts.count; i++) s.emit("flood", i, pad);
    out("queued");
    const last = await s.timeout(120000).emitWithAck("flood-done");
    out("done", { last });
    s.disconnect();
    out("end");
  },

  // One emit with ack at a time, opts.n times, once the test says "go":
  // the server's reads per message are counted meanwhile.
  async echoes() {
    const s = client();
    await once(s, "connect");
    out("connect", { id: s.id, transport: s.io.engine.transport.name });
    await new Promise((resolve) => onCmd("go", resolve));
    for (let i = 0; i < opts.n; i++) {
      const ans = await s.timeout(30000).emitWithAck("echo", i);
      if (ans !== i) fatal(new Error(`echo ${i}: got ${ans}`));
    }
    out("done");
    s.disconnect();
    out("end");
  },

  async many() {
    const count = opts.count;
    const n = opts.n;
    let ended = 0;
    let connected = 0;
    const bad = [];
    const socks = [];
    for (let i = 0; i < count; i++) {
      const s = client("", { forceNew: true });
      const got = [];
      s.on("n", (v) => got.push(v));
      s.on("connect_error", (e) => out("connect_error", { i, message: e.message }));
      s.once("connect", () => {
        connected++;
        if (connected === count) out("all-connected");
      });
      s.on("end", () => {
        const ok = got.length === n && got.every((v, j) => v === j + 1);
        if (!ok) bad.push({ i, got });
        ended++;
        if (ended === count) {
          out("result", { clients: count, bad });
          socks.forEach((x) => x.disconnect());
        }
      });
      socks.push(s);
    }
  },
};

const fn = scenarios[scenario];
if (!fn) fatal(new Error("unknown scenario " + scenario));
fn().catch(fatal);
