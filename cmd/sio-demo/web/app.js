// app.js: the live page. It runs one of two clients behind the same small
// interface (connect, on, onStatus, emitAck): sio.js, written in
// JavaScript, or sio's Go client compiled to WebAssembly (?client=go),
// and shows what the demo server sends.

import { SioClient } from "./sio.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const mode = params.get("client") === "go" ? "go" : "js";

// state is what the page shows; tests read it as window.demoState.
const state = {
  client: mode,
  status: "starting",
  transport: "",
  upgradedAt: 0,
  connectedAt: 0,
  worker: null,
  seq: 0,
  gaps: 0,
  s2c: 0,
  s2cMissed: 0,
  s2cDups: 0,
  clients: null,
  acks: [],
  lastRtt: null,
  error: "",
};
window.demoState = state;

function log(text) {
  const li = document.createElement("li");
  const t = document.createElement("time");
  t.textContent = new Date().toLocaleTimeString([], { hour12: false });
  li.append(t, text);
  const ol = $("log");
  ol.prepend(li);
  while (ol.children.length > 10) ol.lastChild.remove();
}

function fmtMs(ms) {
  return ms < 10 ? ms.toFixed(2) + " ms" : ms.toFixed(1) + " ms";
}

// The clients.

async function jsClient(cfg) {
  const c = new SioClient({ transports: cfg.transports });
  return {
    name: "JavaScript client (sio.js)",
    connect: () => c.connect(),
    on: (ev, fn) => c.on(ev, (args) => fn(args)),
    onStatus: (fn) => c.onStatus(fn),
    emitAck: (ev, args, cb) => c.emitAck(ev, args, cb),
  };
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error("cannot load " + src));
    document.head.append(s);
  });
}

async function goClient(cfg) {
  await loadScript("wasm_exec.js");
  const go = new Go();
  const resp = await fetch("client.wasm");
  if (!resp.ok) throw new Error("client.wasm: " + resp.status + " " + (await resp.text()));
  const { instance } = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
  const ready = new Promise((resolve) => { globalThis.sioGoReady = resolve; });
  go.run(instance).then(() => log("the Go client exited"));
  await ready;
  const handlers = new Map();
  const statusFns = [];
  let h = null;
  return {
    name: "Go client (WebAssembly)",
    connect: () => {
      const base = new URL("/", location.href).toString();
      h = globalThis.sioGo.connect(base, cfg.transports.join(","),
        (name, argsJSON) => { for (const fn of handlers.get(name) || []) fn(JSON.parse(argsJSON)); },
        (statusJSON) => { const s = JSON.parse(statusJSON); for (const fn of statusFns) fn(s); });
    },
    on: (ev, fn) => { if (!handlers.has(ev)) handlers.set(ev, []); handlers.get(ev).push(fn); },
    onStatus: (fn) => statusFns.push(fn),
    emitAck: (ev, args, cb) => h.emitAck(ev, JSON.stringify(args), (err, argsJSON) => cb(err ? new Error(err) : null, err ? [] : JSON.parse(argsJSON))),
  };
}

// The page.

async function main() {
  $("client-other").href = mode === "go" ? "?" : "?client=go";
  $("client-other").textContent = mode === "go" ? "switch to the JavaScript client" : "switch to the Go client (WebAssembly)";
  $("client-name").textContent = mode === "go" ? "Go client (WebAssembly), loading…" : "JavaScript client";
  const cfg = await (await fetch("config.json", { cache: "no-store" })).json();
  $("seq-every").textContent = cfg.seqIntervalMs + " ms";
  let client;
  try {
    client = mode === "go" ? await goClient(cfg) : await jsClient(cfg);
  } catch (e) {
    state.status = "error";
    state.error = String(e.message || e);
    $("state").textContent = "cannot start the client: " + state.error;
    $("state-dot").className = "dot refused";
    return;
  }
  $("client-name").textContent = client.name;

  let lastSeq = 0;
  const origins = new Map(); // worker id -> last n
  const arrivals = [];       // s2c-event arrival times, last 5 s

  client.onStatus((s) => {
    const was = state.transport;
    state.status = s.state;
    state.transport = s.transport || "";
    $("state").textContent = s.state + (s.state === "reconnecting" && s.retryIn ? " in " + (s.retryIn / 1000).toFixed(1) + " s" : "");
    $("state-dot").className = "dot " + s.state;
    $("transport").textContent = s.transport || "–";
    $("transport").className = "pill " + (s.transport || "");
    if (s.sid) $("sid").textContent = s.sid;
    if (s.state === "connected" && !state.connectedAt) {
      state.connectedAt = Date.now();
      lastSeq = 0;
      for (const k of origins.keys()) origins.set(k, -1);
      log("connected over " + s.transport);
      $("send").disabled = false;
    }
    if (s.state !== "connected") {
      state.connectedAt = 0;
      $("send").disabled = true;
      if (s.state === "disconnected" || s.state === "reconnecting") log(s.state + (s.reason ? " (" + s.reason + ")" : ""));
    }
    if (s.upgradedAt && was === "polling" && s.transport === "websocket") {
      state.upgradedAt = s.upgradedAt;
      const after = s.openedAt ? " (" + ((s.upgradedAt - s.openedAt) / 1000).toFixed(2) + " s after the handshake)" : "";
      $("upgrade").textContent = "upgraded from polling at " + new Date(s.upgradedAt).toLocaleTimeString([], { hour12: false }) + after;
      log("upgraded from polling to websocket");
    } else if (s.state === "connected" && s.transport === "websocket" && !s.upgradedAt) {
      $("upgrade").textContent = "from the start";
    }
  });

  client.on("welcome", ([w]) => {
    state.worker = w;
    $("worker").textContent = "worker " + w.worker + " · pid " + w.pid + " · " + w.host + (w.workers > 1 ? " (of " + w.workers + ")" : "");
    log("welcome from worker " + w.worker + " (pid " + w.pid + ")");
  });

  client.on("seq-num", ([n]) => {
    if (lastSeq && n > lastSeq + 1) {
      state.gaps += n - lastSeq - 1;
      log("seq-num gap: " + lastSeq + " → " + n);
    }
    lastSeq = Math.max(lastSeq, n);
    state.seq = n;
    $("seq").textContent = n;
    $("gaps").textContent = state.gaps;
  });

  client.on("s2c-event", ([e]) => {
    const now = performance.now();
    arrivals.push(now);
    state.s2c++;
    const last = origins.get(e.from);
    if (last !== undefined && last >= 0) {
      if (e.n <= last) state.s2cDups++;
      else if (e.n > last + 1) state.s2cMissed += e.n - last - 1;
    }
    origins.set(e.from, Math.max(last || 0, e.n));
    state.clients = e.clients;
    $("s2c-total").textContent = state.s2c;
    $("s2c-bad").textContent = state.s2cMissed + " · " + state.s2cDups;
    $("s2c-from").textContent = "worker " + e.worker + " (#" + e.n + ")";
    $("clients").textContent = e.clients;
  });

  setInterval(() => {
    const now = performance.now();
    while (arrivals.length && arrivals[0] < now - 5000) arrivals.shift();
    // Over the last 5 s, or since the connect when that is shorter.
    const span = state.connectedAt ? Math.max(0.25, Math.min(5, (Date.now() - state.connectedAt) / 1000)) : 5;
    state.s2cRate = arrivals.length / span;
    $("s2c-rate").textContent = state.s2cRate.toFixed(1);
  }, 500);

  let sent = 0;
  $("send").addEventListener("click", () => {
    const n = ++sent;
    const t0 = performance.now();
    client.emitAck("c2s-event", [{ n, at: Date.now() }], (err, args) => {
      const ms = performance.now() - t0;
      const li = document.createElement("li");
      if (err) {
        li.textContent = "#" + n + " failed: " + err.message;
        state.acks.push({ n, error: err.message });
      } else {
        const a = args[0] || {};
        state.lastRtt = ms;
        state.acks.push({ n, ms, worker: a.worker, count: a.n });
        $("rtt").textContent = fmtMs(ms);
        const l = document.createElement("span");
        l.textContent = "#" + n + " acked by worker " + a.worker;
        const r = document.createElement("b");
        r.textContent = fmtMs(ms);
        li.append(l, r);
      }
      $("acks").prepend(li);
      while ($("acks").children.length > 4) $("acks").lastChild.remove();
    });
  });

  client.connect();
}

main().catch((e) => {
  state.status = "error";
  state.error = String(e.message || e);
  $("state").textContent = "error: " + state.error;
});
