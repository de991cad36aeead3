// A TCP proxy between a test client and the server that can cut the network in real ways:
// drop the server's bytes on the floor while the sockets stay open ("blackhole", what a dead
// mobile link looks like to the server: its writes succeed), destroy every connection
// ("sever", both ends see a reset/close), and refuse new connections for a while ("refuse").

import net from "node:net";
import { EventEmitter } from "node:events";

export class SeverableProxy extends EventEmitter {
  constructor(targetHost, targetPort) {
    super();
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    this.mode = "forward"; // forward | blackhole | refuse
    this.pairs = new Set();
    this.dropped = ""; // latin1 text of server→client bytes swallowed in blackhole mode
    this.accepted = 0;
    this.c2sBytes = 0; // client→server bytes forwarded
    this.refused = 0;
    this.server = net.createServer((client) => this.#onConnection(client));
  }

  static async start(targetAddr) {
    const [host, port] = splitAddr(targetAddr);
    const p = new SeverableProxy(host, port);
    await new Promise((resolve, reject) => {
      p.server.once("error", reject);
      p.server.listen(0, "127.0.0.1", resolve);
    });
    return p;
  }

  get addr() { return `127.0.0.1:${this.server.address().port}`; }

  #onConnection(client) {
    if (this.mode === "refuse") {
      this.refused++;
      client.resetAndDestroy();
      return;
    }
    this.accepted++;
    const upstream = net.connect(this.targetPort, this.targetHost);
    const pair = { client, upstream };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", drop);
    upstream.on("close", drop);
    client.on("data", (d) => {
      if (this.mode === "blackhole") return;
      this.c2sBytes += d.length;
      upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (this.mode === "blackhole") {
        this.dropped += d.toString("latin1");
        this.emit("dropped", d);
        return;
      }
      client.write(d);
    });
  }

  // blackhole keeps connections open but swallows everything in both directions.
  blackhole() { this.mode = "blackhole"; this.dropped = ""; }

  // refuse resets new connections until forward() is called.
  refuse() { this.mode = "refuse"; }

  forward() { this.mode = "forward"; }

  // sever destroys every open connection with a TCP reset.
  sever() {
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.pairs.clear();
  }

  get openConnections() { return this.pairs.size; }

  async close() {
    this.sever();
    await new Promise((r) => this.server.close(r));
  }
}

export function splitAddr(addr) {
  const i = addr.lastIndexOf(":");
  return [addr.slice(0, i).replace(/^\[|\]$/g, ""), Number(addr.slice(i + 1))];
}
