// The stock CometD JavaScript client (npm cometd 9) running in Node through
// cometd-nodejs-client, one transport per client, each client with its own cookie jar so that
// several clients in one process look like several browsers (cometd-nodejs-client shares one
// jar per process by default, which would make every long-polling client after the first a
// "multiple-clients" tab polling every 2 s).

import { adapt } from "cometd-nodejs-client";
import { XMLHttpRequest as NodeXHR } from "cometd-nodejs-client/src/XMLHttpRequest.js";
import { CometD, AckExtension } from "cometd";
import { Inbox, withTimeout } from "./wait.js";

adapt();

// Per-transport cookie jars: the long-polling transport copies its `context` into each XHR;
// these cookie hooks read and write the jar found there.
class IsolatedXHR extends NodeXHR {
  constructor() {
    const self = {};
    super({
      cookies: {
        storeCookie(uri, header, callback) {
          const jar = self.xhr?.context?.jar;
          const nameValue = header.split(";")[0].trim();
          const eq = nameValue.indexOf("=");
          if (jar && eq > 0) jar.set(nameValue.slice(0, eq), nameValue);
          callback();
        },
        retrieveCookies(context, uri, callback) {
          callback(null, context?.jar ? [...context.jar.values()] : []);
        },
      },
    });
    self.xhr = this;
  }
}
globalThis.window.XMLHttpRequest = IsolatedXHR;

let seq = 0;

// newClient builds a configured but not yet handshaken client.
//   transport: "websocket" | "long-polling"
//   ack: register the AckExtension
//   credentials: false keeps no cookie at all, like a browser XHR with withCredentials=false
//     (the Genesys widget's long-polling): no BAYEUX_BROWSER cookie is ever sent
export function newClient(url, { transport, ack = false, name, credentials = true } = {}) {
  if (!transport) throw new Error("transport required");
  const cometd = new CometD(name || `c${++seq}`);
  for (const t of cometd.getTransportTypes()) {
    if (t !== transport) cometd.unregisterTransport(t);
  }
  const jar = new Map();
  const tr = cometd.findTransport(transport);
  if (!tr) throw new Error(`transport ${transport} not available`);
  // Without a jar in the context the cookie hooks store nothing and send nothing.
  tr.context = credentials ? { jar } : {};
  if (ack) cometd.registerExtension("ack", new AckExtension());
  cometd.configure({
    url,
    logLevel: process.env.CHATGATE_E2E_VERBOSE ? "debug" : "warn",
    // Retry fast so restart/expiry tests do not spend their budget in back-off.
    backoffIncrement: 100,
    maxBackoff: 1000,
    maxNetworkDelay: 5000,
  });
  const c = new Client(cometd, transport, jar);
  return c;
}

export class Client {
  constructor(cometd, transport, jar) {
    this.cometd = cometd;
    this.transport = transport;
    this.jar = jar;
    this.meta = new Inbox(`${cometd.getName()} meta`);
    // Counters that let a test know a /meta/connect is outstanding (held by the server).
    this.connectsSent = 0;
    this.connectReplies = 0;
    this.onConnectSent = null;
    cometd.registerExtension("connect-probe", {
      outgoing: (m) => {
        if (m.channel === "/meta/connect") {
          this.connectsSent++;
          if (this.onConnectSent) this.onConnectSent(m);
        }
        return m;
      },
    });
    cometd.addListener("/meta/connect", () => { this.connectReplies++; });
    for (const ch of ["/meta/handshake", "/meta/connect", "/meta/disconnect",
      "/meta/subscribe", "/meta/unsubscribe", "/meta/unsuccessful"]) {
      cometd.addListener(ch, (m) => this.meta.push({ ...m, channel: m.channel || ch, listener: ch }));
    }
  }

  get clientId() { return this.cometd.getClientId(); }

  // handshake resolves with the successful handshake reply, rejects on the first failure.
  handshake(props) {
    return withTimeout("handshake", new Promise((resolve, reject) => {
      let done = false;
      this.cometd.handshake(props || {}, (reply) => {
        if (done) return;
        done = true;
        if (reply.successful) resolve(reply); else reject(new Error(`handshake failed: ${JSON.stringify(reply)}`));
      });
    }));
  }

  // connected waits for a successful /meta/connect after now, which means the held-connect
  // loop is running on the negotiated transport.
  async connected(timeout = 10000) {
    return this.meta.next((m) => m.listener === "/meta/connect" && m.successful, timeout,
      "a successful /meta/connect");
  }

  subscribe(channel, onMessage, props) {
    return withTimeout(`subscribe ${channel}`, new Promise((resolve, reject) => {
      const sub = this.cometd.subscribe(channel, onMessage, props || {}, (reply) => {
        if (reply.successful) resolve(sub); else reject(new Error(`subscribe ${channel} failed: ${JSON.stringify(reply)}`));
      });
    }));
  }

  unsubscribe(sub) {
    return withTimeout("unsubscribe", new Promise((resolve, reject) => {
      this.cometd.unsubscribe(sub, {}, (reply) => {
        if (reply.successful) resolve(reply); else reject(new Error(`unsubscribe failed: ${JSON.stringify(reply)}`));
      });
    }));
  }

  publish(channel, data) {
    return withTimeout(`publish ${channel}`, new Promise((resolve, reject) => {
      this.cometd.publish(channel, data, {}, (reply) => {
        if (reply.successful) resolve(reply); else reject(new Error(`publish ${channel} failed: ${JSON.stringify(reply)}`));
      });
    }));
  }

  // publishExpectingFailure resolves with the unsuccessful reply.
  publishReply(channel, data) {
    return withTimeout(`publish ${channel}`, new Promise((resolve) => {
      this.cometd.publish(channel, data, {}, resolve);
    }));
  }

  remoteCall(target, data, timeout = 5000) {
    return withTimeout(`remoteCall ${target}`, new Promise((resolve, reject) => {
      this.cometd.remoteCall(target, data, timeout, (reply) => {
        if (reply.successful === false) reject(new Error(`remoteCall ${target} failed: ${JSON.stringify(reply)}`));
        else resolve(reply);
      });
    }), timeout + 1000);
  }

  disconnect() {
    if (this.cometd.isDisconnected()) return Promise.resolve();
    return withTimeout("disconnect", new Promise((resolve) => {
      this.cometd.disconnect({}, (reply) => resolve(reply));
    }));
  }
}
