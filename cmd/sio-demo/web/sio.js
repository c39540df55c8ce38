// sio.js: a small Engine.IO v4 / Socket.IO v5 client for the demo page.
// It joins the main namespace, sends and receives text events with
// acknowledgements, starts on long-polling and upgrades to WebSocket (or
// opens a WebSocket straight away when the server offers no polling),
// answers the server's pings, notices a silent server, and reconnects
// with a growing delay. Binary attachments are left out: the demo sends
// none.

const SEP = "\x1e"; // between the packets of a polling payload

export class SioClient {
  // opts: {transports: ["polling", "websocket"], path: "/socket.io/"}
  constructor(opts = {}) {
    this.transports = opts.transports || ["polling", "websocket"];
    this.path = opts.path || "/socket.io/";
    this.handlers = new Map(); // event name -> [fn]
    this.statusFns = [];
    this.acks = new Map(); // ack id -> fn
    this.nextAck = 0;
    this.attempt = 0;
    this.status = { state: "disconnected", transport: "", sid: "", id: "", upgradedAt: 0, openedAt: 0 };
    this.eio = null;
  }

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(fn);
  }

  onStatus(fn) { this.statusFns.push(fn); }

  setStatus(patch) {
    Object.assign(this.status, patch);
    for (const fn of this.statusFns) fn({ ...this.status });
  }

  connect() {
    this.setStatus({ state: "connecting", transport: "", sid: "", id: "", upgradedAt: 0 });
    const eio = new EngineSession(this, this.transports, this.path);
    this.eio = eio;
    eio.open();
  }

  // emitAck sends event with args and calls cb(err, args) with the answer.
  emitAck(event, args, cb, timeoutMs = 10000) {
    if (this.status.state !== "connected") {
      cb(new Error("not connected"));
      return;
    }
    const id = this.nextAck++;
    const timer = setTimeout(() => {
      if (this.acks.delete(id)) cb(new Error("ack timeout"));
    }, timeoutMs);
    this.acks.set(id, (err, a) => { clearTimeout(timer); cb(err, a); });
    this.eio.send("42" + id + JSON.stringify([event, ...args]));
  }

  emit(event, ...args) {
    if (this.status.state === "connected") this.eio.send("42" + JSON.stringify([event, ...args]));
  }

  // Called by the Engine.IO session.
  engineOpen(eio, transport) {
    if (eio !== this.eio) return;
    this.setStatus({ transport, sid: eio.sid, openedAt: Date.now() });
    eio.send("40");
  }

  engineUpgraded(eio) {
    if (eio !== this.eio) return;
    this.setStatus({ transport: "websocket", upgradedAt: Date.now() });
  }

  engineMessage(eio, data) {
    if (eio !== this.eio) return;
    const type = data[0];
    let i = 1;
    // A namespace other than "/" would start with "/...,": the demo only
    // joins the main one, so anything else is ignored.
    if (data[i] === "/") return;
    let id = "";
    while (i < data.length && data[i] >= "0" && data[i] <= "9") id += data[i++];
    let payload;
    try {
      payload = i < data.length ? JSON.parse(data.slice(i)) : undefined;
    } catch (e) {
      eio.close("parse error");
      return;
    }
    switch (type) {
      case "0": // CONNECT
        this.attempt = 0;
        this.setStatus({ state: "connected", id: payload && payload.sid || "" });
        break;
      case "1": // DISCONNECT
        eio.close("io server disconnect");
        break;
      case "2": { // EVENT
        if (!Array.isArray(payload) || typeof payload[0] !== "string") return;
        const [name, ...args] = payload;
        const ack = id === "" ? null : (...a) => eio.send("43" + id + JSON.stringify(a));
        for (const fn of this.handlers.get(name) || []) fn(args, ack);
        break;
      }
      case "3": { // ACK
        const fn = this.acks.get(Number(id));
        if (fn) {
          this.acks.delete(Number(id));
          fn(null, Array.isArray(payload) ? payload : []);
        }
        break;
      }
      case "4": // CONNECT_ERROR
        this.setStatus({ state: "refused", error: payload && payload.message || "refused" });
        eio.close("connect error");
        break;
    }
  }

  engineClosed(eio, reason) {
    if (eio !== this.eio) return;
    for (const [id, fn] of this.acks) fn(new Error("disconnected"));
    this.acks.clear();
    this.setStatus({ state: "disconnected", reason, transport: "" });
    if (reason === "io server disconnect" || reason === "client close") return;
    // Reconnect after 0.5 s, doubling up to 5 s, with jitter.
    const delay = Math.min(5000, 500 * 2 ** this.attempt++) * (0.75 + Math.random() / 2);
    this.setStatus({ state: "reconnecting", retryIn: Math.round(delay) });
    setTimeout(() => { if (this.eio === eio) this.connect(); }, delay);
  }

  close() {
    if (this.eio) {
      const e = this.eio;
      e.close("client close");
    }
  }
}

// EngineSession is one Engine.IO session: polling (then maybe a WebSocket
// after the upgrade) or a WebSocket from the start.
class EngineSession {
  constructor(owner, transports, path) {
    this.owner = owner;
    this.transports = transports;
    this.path = path;
    this.sid = "";
    this.closed = false;
    this.ws = null;         // the WebSocket once in use
    this.polling = false;   // a GET is in flight
    this.pausePoll = null;  // set during an upgrade: called when the GET returns
    this.outbox = [];       // packets waiting for the next POST
    this.posting = false;
    this.pingTimer = 0;
  }

  url(transport) {
    const u = new URL(this.path, location.href);
    u.searchParams.set("EIO", "4");
    u.searchParams.set("transport", transport);
    if (this.sid) u.searchParams.set("sid", this.sid);
    if (transport === "websocket") u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    else u.searchParams.set("t", Date.now().toString(36) + Math.random().toString(36).slice(2, 6));
    return u.toString();
  }

  open() {
    if (this.transports[0] === "websocket") this.openWebSocket();
    else this.poll();
  }

  handshake(data, transport) {
    let h;
    try {
      h = JSON.parse(data.slice(1));
    } catch (e) {
      this.close("parse error");
      return;
    }
    this.sid = h.sid;
    this.pingInterval = h.pingInterval;
    this.pingTimeout = h.pingTimeout;
    this.upgrades = h.upgrades || [];
    this.armPing();
    this.owner.engineOpen(this, transport);
    if (transport === "polling" && this.upgrades.includes("websocket") && this.transports.includes("websocket")) {
      this.probe();
    }
  }

  // armPing expects a ping from the server within interval + timeout.
  armPing() {
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => this.close("ping timeout"), this.pingInterval + this.pingTimeout);
  }

  // packet handles one Engine.IO packet from whichever transport.
  packet(data, transport) {
    if (this.closed) return;
    switch (data[0]) {
      case "0": this.handshake(data, transport); break;
      case "1": this.close("transport close"); break;
      case "2": this.armPing(); this.send("3" + data.slice(1)); break;
      case "4": this.owner.engineMessage(this, data.slice(1)); break;
      case "6": break; // noop
    }
  }

  async poll() {
    if (this.closed || this.ws) return;
    this.polling = true;
    let body;
    try {
      const r = await fetch(this.url("polling"), { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      body = await r.text();
    } catch (e) {
      this.polling = false;
      this.close("transport error");
      return;
    }
    this.polling = false;
    for (const p of body.split(SEP)) this.packet(p, "polling");
    if (this.pausePoll) {
      const done = this.pausePoll;
      this.pausePoll = null;
      done();
      return;
    }
    this.poll();
  }

  send(packet) {
    if (this.closed) return;
    if (this.ws && this.wsActive) {
      this.ws.send(packet);
      return;
    }
    this.outbox.push(packet);
    this.flush();
  }

  async flush() {
    if (this.posting || this.outbox.length === 0 || this.closed || this.upgrading) return;
    this.posting = true;
    const body = this.outbox.join(SEP);
    this.outbox = [];
    try {
      const r = await fetch(this.url("polling"), { method: "POST", body, headers: { "Content-Type": "text/plain;charset=UTF-8" } });
      if (!r.ok) throw new Error("HTTP " + r.status);
      await r.text();
    } catch (e) {
      this.posting = false;
      this.close("transport error");
      return;
    }
    this.posting = false;
    if (this.upgrading && this.onPostsDone) this.onPostsDone();
    else this.flush();
  }

  openWebSocket() {
    const ws = new WebSocket(this.url("websocket"));
    this.ws = ws;
    this.wsActive = true;
    ws.onmessage = (m) => { if (typeof m.data === "string") this.packet(m.data, "websocket"); };
    ws.onclose = () => this.close("transport close");
    ws.onerror = () => this.close("transport error");
  }

  // probe upgrades the polling session: 2probe / 3probe on a new
  // WebSocket, then the poll is let go (the server answers it with a
  // noop), then 5 makes the WebSocket the transport.
  probe() {
    const ws = new WebSocket(this.url("websocket"));
    let ok = false;
    const fail = () => { if (!ok && !this.closed) { ok = true; ws.close(); } };
    ws.onopen = () => ws.send("2probe");
    ws.onerror = fail;
    ws.onclose = () => { if (this.ws === ws) this.close("transport close"); else fail(); };
    ws.onmessage = (m) => {
      if (this.ws === ws) {
        if (typeof m.data === "string") this.packet(m.data, "websocket");
        return;
      }
      if (m.data !== "3probe") { fail(); return; }
      ok = true;
      this.upgrading = true;
      const finish = () => {
        if (this.polling || this.posting) return;
        if (this.closed) return;
        this.ws = ws;
        ws.send("5");
        this.wsActive = true;
        this.upgrading = false;
        const pending = this.outbox;
        this.outbox = [];
        for (const p of pending) ws.send(p);
        this.owner.engineUpgraded(this);
      };
      this.onPostsDone = finish;
      if (this.polling) this.pausePoll = finish;
      else finish();
    };
  }

  close(reason) {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.pingTimer);
    if (this.ws) {
      if (reason === "client close" && this.ws.readyState === WebSocket.OPEN) this.ws.send("1");
      this.ws.onclose = this.ws.onerror = this.ws.onmessage = null;
      this.ws.close();
    } else if (reason === "client close" && this.sid) {
      fetch(this.url("polling"), { method: "POST", body: "1" }).catch(() => {});
    }
    this.owner.engineClosed(this, reason);
  }
}
