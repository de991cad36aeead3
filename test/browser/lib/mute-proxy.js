// A TCP proxy that can mute the server: while muted, the client's bytes still reach the
// server but the server's bytes are dropped, so a request is processed and its answer lost
// (what a link that dies mid-request looks like to the client). sever() resets every
// connection, as a network change does.

import net from "node:net";

export class MuteProxy {
  static async start(targetAddr) {
    const p = new MuteProxy();
    const i = targetAddr.lastIndexOf(":");
    const host = targetAddr.slice(0, i);
    const port = Number(targetAddr.slice(i + 1));
    p.muted = false;
    p.pairs = new Set();
    p.server = net.createServer((client) => {
      const up = net.connect(port, host);
      const pair = { client, up };
      p.pairs.add(pair);
      client.on("data", (d) => up.write(d));
      up.on("data", (d) => { if (!p.muted) client.write(d); });
      const end = () => { p.pairs.delete(pair); client.destroy(); up.destroy(); };
      client.on("close", end).on("error", end);
      up.on("close", end).on("error", end);
    });
    await new Promise((resolve, reject) => {
      p.server.once("error", reject);
      p.server.listen(0, "127.0.0.1", resolve);
    });
    return p;
  }

  get url() { return `http://127.0.0.1:${this.server.address().port}`; }

  mute() { this.muted = true; }
  unmute() { this.muted = false; }

  sever() {
    for (const { client, up } of this.pairs) {
      client.resetAndDestroy();
      up.resetAndDestroy();
    }
    this.pairs.clear();
  }

  close() {
    this.sever();
    return new Promise((r) => this.server.close(r));
  }
}
