// Drives a raw Engine.IO server with the official engine.io-client: sends a
// text and a binary message, expects them echoed, then closes. Prints one
// JSON line per event.
const { Socket } = require("engine.io-client");
const url = process.argv[2];
const transports = process.argv[3].split(",");
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const sock = new Socket(url, { transports });
let got = [];
sock.on("open", () => {
  out({ ev: "open", transport: sock.transport.name });
  sock.send("hello");
  sock.send(Buffer.from([1, 2, 3]));
});
sock.on("upgrade", (t) => out({ ev: "upgrade", transport: t.name }));
sock.on("message", (data) => {
  if (typeof data === "string") got.push({ text: data });
  else got.push({ binary: Array.from(new Uint8Array(data)) });
  if (got.length === 2) {
    out({ ev: "echo", got, transport: sock.transport.name });
    sock.close();
  }
});
// Exit once the close packet has had time to leave (polling sends it in a
// request of its own).
sock.on("close", (reason) => { out({ ev: "close", reason }); setTimeout(() => process.exit(0), 300); });
sock.on("error", (e) => { out({ ev: "error", message: String(e) }); process.exit(1); });
setTimeout(() => { out({ ev: "timeout" }); process.exit(2); }, 10000);
