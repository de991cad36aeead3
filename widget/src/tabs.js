// Several tabs of one browser, one CometD connection. The tabs that show a chat elect a
// leader with the Web Locks API (the lock is released when its tab closes or crashes, and
// the next waiting tab gets it) and talk over a BroadcastChannel: the leader owns the real
// Connection and broadcasts every push and state change; the others send their operations to
// the leader and get the publish result back. Each tab applies the pushes itself, with the
// same index-ordered, duplicate-free rules, so every tab shows the same transcript.
//
// Why not a SharedWorker: Safari and Chrome on Android lack it, and a worker cannot be
// created from the widget's own origin on a third-party page without an extra file. Where
// BroadcastChannel or Web Locks are missing, every tab simply has its own connection (the
// server allows several sessions per chat).
//
// A leader that goes away takes its in-flight publishes with it: the caller's promise is
// rejected after a timeout (or at once when this tab becomes the leader), and the widget's
// reconciliation decides whether the message arrived.

import { Connection } from "./connection.js";

const CALL_TIMEOUT = 10000; // ms a follower waits for the leader's publish result

export class SharedConnection {
  constructor(opts) {
    this.opts = opts;
    this.state = "connecting";
    this.leader = false;
    this.real = null;
    this.started = false;
    this.calls = new Map();
    this.tab = Math.random().toString(36).slice(2);
    this.seq = 0;
    const name = `chatgate:v1:${opts.base}:${opts.service}`;
    if (typeof BroadcastChannel !== "function" || !navigator.locks) {
      this.#lead();
      return;
    }
    this.bc = new BroadcastChannel(name);
    this.bc.onmessage = (e) => this.#onMessage(e.data || {});
    this.abort = new AbortController();
    navigator.locks.request(name, { signal: this.abort.signal }, () => {
      this.#lead();
      return new Promise((release) => { this.release = release; });
    }).catch(() => {}); // aborted by stop()
    this.bc.postMessage({ t: "hello" });
  }

  get online() {
    return this.state === "online";
  }

  // transport of the leader's connection; null in a following tab.
  get transport() {
    return this.real ? this.real.transport : null;
  }

  // The Connection's interface, for the widget.
  start() {
    this.started = true;
    if (this.leader) this.real.start();
    else this.bc.postMessage({ t: "start" });
  }

  publish(data) {
    if (this.leader) return this.real.publish(data);
    const id = `${this.tab}.${++this.seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#settle(id, false, "no answer from the leading tab"), CALL_TIMEOUT);
      this.calls.set(id, { resolve, reject, timer });
      this.bc.postMessage({ t: "pub", id, data });
    });
  }

  refresh(...a) {
    return Connection.prototype.refresh.apply(this.#http(), a);
  }

  ntf(...a) {
    return Connection.prototype.ntf.apply(this.#http(), a);
  }

  // The plain HTTP calls need no Bayeux session of their own (chat-ntf needs the browser's
  // BAYEUX_BROWSER cookie, which the leader's session set for every tab).
  #http() {
    return this.real || { base: this.opts.base.replace(/\/+$/, ""), service: this.opts.service, refreshTimeout: this.opts.refreshTimeout };
  }

  stop() {
    if (this.real) this.real.stop();
    this.real = null;
    this.leader = false;
    if (this.release) this.release();
    if (this.abort) this.abort.abort();
    if (this.bc) this.bc.close();
    this.bc = null;
    for (const id of [...this.calls.keys()]) this.#settle(id, false, "stopped");
  }

  // ---- internals ----

  #lead() {
    this.leader = true;
    for (const id of [...this.calls.keys()]) this.#settle(id, false, "the leading tab went away");
    this.real = new Connection({
      ...this.opts,
      onData: (d) => {
        this.#post({ t: "data", d });
        this.opts.onData(d);
      },
      onState: (s) => {
        this.state = s;
        this.#post({ t: "state", s });
        this.opts.onState(s);
      },
      onHandshake: () => {
        this.#post({ t: "handshake" });
        this.opts.onHandshake();
      },
    });
    if (this.started) this.real.start();
  }

  #post(m) {
    if (this.bc) this.bc.postMessage(m);
  }

  #settle(id, ok, error) {
    const c = this.calls.get(id);
    if (!c) return;
    this.calls.delete(id);
    clearTimeout(c.timer);
    if (ok) c.resolve();
    else c.reject(new Error(error || "publish failed"));
  }

  #onMessage(m) {
    if (this.leader) {
      if (m.t === "hello") this.#post({ t: "state", s: this.real.state });
      else if (m.t === "start") {
        this.started = true;
        this.real.start();
      } else if (m.t === "pub") {
        this.real.publish(m.data).then(() => this.#post({ t: "pubr", id: m.id, ok: true }),
          (e) => this.#post({ t: "pubr", id: m.id, ok: false, error: e.message }));
      }
      return;
    }
    if (m.t === "data") this.opts.onData(m.d);
    else if (m.t === "pubr") this.#settle(m.id, m.ok, m.error);
    else if (m.t === "state" || m.t === "handshake") {
      const was = this.state;
      if (m.s) this.state = m.s;
      if (m.t === "handshake" || m.s === "online") this.state = "online";
      if (this.state !== was) this.opts.onState(this.state);
      // A follower treats the leader's (new) session like its own handshake: re-attach and
      // replay (harmless when nothing is missing; duplicates are dropped by index).
      if (this.state === "online" && (was !== "online" || m.t === "handshake")) this.opts.onHandshake();
    }
  }
}
