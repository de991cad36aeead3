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

  // connect handshakes and waits until the client has settled on the expected transport.
  // (Faye's connects carry no advice.timeout:0, so the first one is held for the server's
  // whole timeout; tests that need a connect reply wait for it themselves.)
  async connect() {
    await withTimeout(`${this.name} handshake`, new Promise((r) => this.client.connect(r)));
    await waitFor(`${this.name} on ${this.transport}`, () => this.connectionType === this.transport,
      { timeout: 10000 });
    return this;
  }

  // subscribe resolves, once the server acknowledged it, with { subscription } (a Faye
  // Subscription is itself a thenable, so it cannot be the resolved value).
  async subscribe(channel, onMessage) {
    const subscription = this.client.subscribe(channel, onMessage);
    await withTimeout(`${this.name} subscribe ${channel}`,
      new Promise((resolve, reject) => subscription.then(resolve, reject)));
    return { subscription };
  }

  publish(channel, data) {
    return withTimeout(`${this.name} publish ${channel}`, Promise.resolve(this.client.publish(channel, data)));
  }

  // disconnect ends a connected client; a client that never got connected (a failing test)
  // is stopped instead, or its handshake retries would keep the test process alive. Faye has
  // no public "stop"; advice reconnect:"none" is what makes it give up (pinned faye 1.4.3).
  disconnect() {
    const p = this.client.disconnect();
    if (p) return withTimeout(`${this.name} disconnect`, Promise.resolve(p));
    this.client._advice.reconnect = "none";
    this.client._dispatcher.close();
    return Promise.resolve();
  }
}
