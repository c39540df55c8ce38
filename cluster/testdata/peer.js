// A Node.js peer for the cluster tests of package cluster: the reference
// server on the reference Redis adapter, the reference emitter, and
// official clients, driven by the Go test.
//
//   node peer.js
//
// Commands arrive on stdin as JSON lines {"id":N,"cmd":"<name>",...}; each
// is answered on stdout by {"ev":"result","id":N,"value":...} or
// {"ev":"result","id":N,"error":"..."}. What happens meanwhile is reported
// as {"ev":"<name>",...} lines. Binary values are described as
// {"$bin":"<hex>"} both ways. The process ends when stdin closes.
"use strict";

const readline = require("readline");
const http = require("http");

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

// describe turns a value into JSON: binary becomes {"$bin": hex}.
function describe(v) {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $bin: Buffer.from(v).toString("hex") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("hex") };
  if (Array.isArray(v)) return v.map(describe);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = describe(v[k]);
    return o;
  }
  return v;
}
// revive is the inverse of describe.
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

let io = null; // the server
let pubClient = null;
let subClient = null;
let emitter = null;
let emitterClient = null;
const clients = new Map(); // name -> client socket
const many = []; // the clients of manyClients
let latSockets = []; // the clients of latClients
let latencies = [];
const { performance } = require("perf_hooks");
function nowMicros() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

async function redisClient(url) {
  const { createClient } = require("redis");
  const c = createClient({ url });
  c.on("error", (err) => out("redis-error", { message: String(err) }));
  await c.connect();
  return c;
}

// connected resolves when client socket s connects, and rejects on its
// connect_error.
function connected(s) {
  return new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  });
}

// connectMany makes count official clients over WebSocket, client i on
// urls[i % urls.length], each set up by setup(s, i, url) as it is made,
// and resolves when all are connected.
function connectMany(urls, count, setup) {
  const { io: connect } = require("socket.io-client");
  const pending = [];
  for (let i = 0; i < count; i++) {
    const url = urls[i % urls.length];
    const s = connect(url, { transports: ["websocket"], reconnection: false, forceNew: true });
    setup(s, i, url);
    pending.push(connected(s));
  }
  return Promise.all(pending);
}

function operator(target, m) {
  let op = target;
  if (m.rooms && m.rooms.length) op = op.to(m.rooms);
  if (m.except && m.except.length) op = op.except(m.except);
  if (m.volatile) op = op.volatile;
  if (m.local) op = op.local;
  if (m.timeout) op = op.timeout(m.timeout);
  return op;
}

const commands = {
  // Starts the reference server on a loopback port with the Redis
  // adapter: m.protocol "classic" (createAdapter) or "sharded".
  async server(m) {
    const { Server } = require("socket.io");
    if (m.cluster) {
      // A Redis Cluster: m.cluster lists the nodes' host:port.
      const { createCluster } = require("redis");
      const make = () => {
        const c = createCluster({ rootNodes: m.cluster.map((a) => ({ url: "redis://" + a })) });
        c.on("error", (err) => out("redis-error", { message: String(err) }));
        return c;
      };
      pubClient = make();
      subClient = make();
      await pubClient.connect();
      await subClient.connect();
    } else {
      pubClient = await redisClient(m.redis);
      subClient = pubClient.duplicate();
      subClient.on("error", (err) => out("redis-error", { message: String(err) }));
      await subClient.connect();
    }
    let adapter;
    if (m.protocol === "sharded") {
      const { createShardedAdapter } = require("@socket.io/redis-adapter");
      adapter = createShardedAdapter(pubClient, subClient, m.options || {});
    } else {
      const { createAdapter } = require("@socket.io/redis-adapter");
      adapter = createAdapter(pubClient, subClient, Object.assign({ requestsTimeout: 2000 }, m.options || {}));
    }
    const httpServer = http.createServer();
    io = new Server(httpServer, { adapter });
    for (const name of m.namespaces || ["/"]) setupNamespace(io.of(name));
    await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    return { port: httpServer.address().port, uid: io.of("/").adapter.uid };
  },

  async emit(m) {
    operator(io.of(m.nsp || "/"), m).emit(m.event, ...revive(m.args || []));
    return null;
  },

  async emitWithAck(m) {
    const res = await operator(io.of(m.nsp || "/"), m).emitWithAck(m.event, ...revive(m.args || []));
    return describe(res);
  },

  async fetchSockets(m) {
    const socks = await operator(io.of(m.nsp || "/"), m).fetchSockets();
    return socks.map((s) => ({ id: s.id, rooms: [...s.rooms], data: describe(s.data), handshake: s.handshake }));
  },

  // Acts on a fetched socket: m.action is emit, join, leave or disconnect.
  async remoteSocket(m) {
    const socks = await io.of(m.nsp || "/").in(m.sid).fetchSockets();
    if (socks.length !== 1) throw new Error(`socket ${m.sid}: found ${socks.length}`);
    const s = socks[0];
    if (m.action === "emit") s.emit(m.event, ...revive(m.args || []));
    else if (m.action === "join") s.join(m.room);
    else if (m.action === "leave") s.leave(m.room);
    else if (m.action === "disconnect") s.disconnect(!!m.close);
    return null;
  },

  async socketsJoin(m) {
    operator(io.of(m.nsp || "/"), m).socketsJoin(m.room);
    return null;
  },
  async socketsLeave(m) {
    operator(io.of(m.nsp || "/"), m).socketsLeave(m.room);
    return null;
  },
  async disconnectSockets(m) {
    operator(io.of(m.nsp || "/"), m).disconnectSockets(!!m.close);
    return null;
  },

  async allRooms(m) {
    const rooms = await io.of(m.nsp || "/").adapter.allRooms();
    return [...rooms];
  },

  async serverCount(m) {
    return await io.of(m.nsp || "/").adapter.serverCount();
  },

  async serverSideEmit(m) {
    const nsp = io.of(m.nsp || "/");
    if (!m.ack) {
      nsp.serverSideEmit(m.event, ...revive(m.args || []));
      return null;
    }
    const res = await nsp.serverSideEmitWithAck(m.event, ...revive(m.args || []));
    return describe(res);
  },

  // The reference emitter on its own Redis connection.
  async emitter(m) {
    const { Emitter } = require("@socket.io/redis-emitter");
    emitterClient = await redisClient(m.redis);
    emitter = new Emitter(emitterClient, m.key ? { key: m.key } : undefined);
    return null;
  },
  async emitterDo(m) {
    let op = emitter.of(m.nsp || "/");
    if (m.rooms && m.rooms.length) op = op.to(m.rooms);
    if (m.except && m.except.length) op = op.except(m.except);
    if (m.volatile) op = op.volatile;
    switch (m.action) {
      case "emit":
        op.emit(m.event, ...revive(m.args || []));
        break;
      case "socketsJoin":
        op.socketsJoin(m.room);
        break;
      case "socketsLeave":
        op.socketsLeave(m.room);
        break;
      case "disconnectSockets":
        op.disconnectSockets(!!m.close);
        break;
      case "serverSideEmit":
        emitter.of(m.nsp || "/").serverSideEmit(m.event, ...revive(m.args || []));
        break;
      default:
        throw new Error("unknown emitter action " + m.action);
    }
    // Wait until the emitter's PUBLISH went out.
    await emitterClient.ping();
    return null;
  },

  // An official client named m.name connects to m.url (namespace m.nsp).
  async client(m) {
    const { io: connect } = require("socket.io-client");
    const s = connect(m.url + (m.nsp && m.nsp !== "/" ? m.nsp : ""), {
      transports: ["websocket"],
      reconnection: false,
      auth: m.auth || {},
      query: m.query || {},
    });
    clients.set(m.name, s);
    s.onAny((event, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      out("client-event", { client: m.name, name: event, args: describe(args) });
      if (ack) ack(m.answer !== undefined ? m.answer : { from: m.name });
    });
    s.on("disconnect", (reason) => out("client-disconnect", { client: m.name, reason }));
    await connected(s);
    return { id: s.id };
  },
  async clientEmit(m) {
    const s = clients.get(m.name);
    if (m.ack) return describe(await s.timeout(m.timeout || 5000).emitWithAck(m.event, ...revive(m.args || [])));
    s.emit(m.event, ...revive(m.args || []));
    return null;
  },
  // m.count official clients, client i on m.urls[i % m.urls.length]. Each
  // checks the "seq" events it receives: per sender tag, the indexes must
  // come in order, each once.
  async manyClients(m) {
    await connectMany(m.urls, m.count, (s, i, url) => {
      const st = { name: "m" + i, url, next: {}, errors: [], disconnected: false };
      many.push({ s, st });
      s.on("seq", (tag, idx) => {
        const want = st.next[tag] || 0;
        if (idx !== want) st.errors.push(`${tag}: got ${idx}, want ${want}`);
        st.next[tag] = idx + 1;
      });
      s.on("disconnect", () => (st.disconnected = true));
    });
    return null;
  },
  async report(m) {
    return many.map(({ st }) => st);
  },

  // Broadcasts ("lat", m.tag, i, µs since the epoch) for i < m.count, at
  // m.rate per second.
  async rate(m) {
    const nsp = io.of("/");
    const start = performance.now();
    for (let i = 0; i < m.count; i++) {
      const due = start + (i * 1000) / m.rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      nsp.emit("lat", m.tag, i, nowMicros());
    }
    return null;
  },
  async cpu() {
    const u = process.cpuUsage();
    return u.user + u.system;
  },

  // m.count official clients over m.urls that record the latency of each
  // "lat" event they receive.
  async latClients(m) {
    await connectMany(m.urls, m.count, (s) => {
      latSockets.push(s);
      s.on("lat", (tag, idx, t) => latencies.push(nowMicros() - t));
    });
    return null;
  },
  // Waits until m.want latencies are in (or m.timeout ms pass), then
  // reports their count and percentiles in µs, and starts afresh.
  async latReport(m) {
    const deadline = Date.now() + (m.timeout || 30000);
    while (latencies.length < m.want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const l = latencies.sort((a, b) => a - b);
    latencies = [];
    const q = (p) => (l.length ? l[Math.min(l.length - 1, Math.floor(p * l.length))] : -1);
    return { count: l.length, p50: q(0.5), p99: q(0.99), max: l.length ? l[l.length - 1] : -1 };
  },
  async latClose() {
    for (const s of latSockets) s.disconnect();
    latSockets = [];
    return null;
  },

  async clientClose(m) {
    clients.get(m.name).disconnect();
    clients.delete(m.name);
    return null;
  },
};

function setupNamespace(nsp) {
  nsp.on("connection", (socket) => {
    socket.data = { node: "node", nsp: nsp.name };
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack("joined");
    });
    out("connection", { nsp: nsp.name, id: socket.id });
  });
  nsp.on("hello", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    out("server-side", { nsp: nsp.name, args: describe(args) });
    if (ack) ack({ from: "node", got: describe(args) });
  });
}

readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  if (!line.trim()) return;
  const m = JSON.parse(line);
  const fn = commands[m.cmd];
  if (!fn) {
    out("result", { id: m.id, error: "unknown command " + m.cmd });
    return;
  }
  try {
    const value = await fn(m);
    out("result", { id: m.id, value: value === undefined ? null : value });
  } catch (err) {
    out("result", { id: m.id, error: String((err && err.message) || err) });
  }
});
process.stdin.on("end", async () => {
  for (const s of clients.values()) s.disconnect();
  for (const { s } of many) s.disconnect();
  for (const s of latSockets) s.disconnect();
  if (io) io.close();
  for (const c of [pubClient, subClient, emitterClient]) {
    if (c) {
      try {
        await c.disconnect();
      } catch (e) {}
    }
  }
  process.exit(0);
});
