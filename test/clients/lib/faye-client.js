// The stock Faye client (npm faye 1.4) in Node. Faye always handshakes over long-polling and
// then upgrades to websocket if the server offers it and a socket opens; `transport:
// "long-polling"` disables the upgrade. Every message in and out is recorded (Faye has no
// per-message callbacks for meta replies such as unsubscribe).

import Faye from "faye";
import { Inbox, waitFor, withTimeout } from "./wait.js";

let seq = 0;

export function newFayeClient(url, { transport } = {}) {
  if (!transport) throw new Error("transport required");
  const client = new Faye.Client(url, { retry: 0.2, timeout: 60 });
  if (transport === "long-polling") client.disable("websocket");
  const f = new FayeClient(client, transport, `faye${++seq}`);
  return f;
}

export class FayeClient {
  constructor(client, transport, name) {
    this.client = client;
    this.transport = transport;
    this.name = name;
    this.wireIn = new Inbox(`${name} in`);
    this.wireOut = new Inbox(`${name} out`);
    client.addExtension({
      incoming: (m, cb) => { this.wireIn.push(m); cb(m); },
      outgoing: (m, cb) => { this.wireOut.push(m); cb(m); },
    });
  }

  // The connection type in use; Faye keeps it on its dispatcher (pinned faye 1.4.3).
  get connectionType() { return this.client._dispatcher.connectionType; }
  get clientId() { return this.client._dispatcher.clientId; }

  // connect handshakes, waits for the chosen transport and a successful /meta/connect reply.
  async connect() {
    await withTimeout(`${this.name} handshake`, new Promise((r) => this.client.connect(r)));
    await waitFor(`${this.name} on ${this.transport}`, () => this.connectionType === this.transport,
      { timeout: 10000 });
    await this.wireIn.next((m) => m.channel === "/meta/connect" && m.successful, 10000,
      "a successful /meta/connect");
    return this;
  }

  subscribe(channel, onMessage) {
    return withTimeout(`${this.name} subscribe ${channel}`,
      Promise.resolve(this.client.subscribe(channel, onMessage)));
  }

  publish(channel, data) {
    return withTimeout(`${this.name} publish ${channel}`, Promise.resolve(this.client.publish(channel, data)));
  }

  disconnect() {
    const p = this.client.disconnect();
    return p ? withTimeout(`${this.name} disconnect`, Promise.resolve(p)) : Promise.resolve();
  }
}
