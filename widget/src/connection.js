// The widget's link to chatgate: one CometD client (websocket first; the CometD client falls
// back to long-polling by itself when the websocket cannot be opened) on the GMS Chat API v2
// service channel, plus the two plain HTTP endpoints the CometD flavour needs: chat-ntf for
// files and the REST refresh used to reconcile a message whose fate is unknown.

import { CometD } from "cometd";

const REFRESH_TIMEOUT = 10000; // ms for a REST refresh answer

export class Connection {
  // base: server origin ("https://chat.example.com"); service: GMS chat service name.
  // onData(d): every response object pushed on the service channel.
  // onState(s): "connecting" | "online" | "offline".
  // onHandshake(): a new Bayeux session exists (the first, or after the server forgot the
  // old one): the chat must be re-attached with requestNotifications.
  constructor({ base, service, onData, onState, onHandshake, cometd = {}, refreshTimeout, websocket = true }) {
    this.websocket = websocket;
    this.base = base.replace(/\/+$/, "");
    this.refreshTimeout = refreshTimeout || REFRESH_TIMEOUT;
    this.service = service;
    this.channel = `/service/chatV2/${service}`;
    this.onData = onData;
    this.onState = onState;
    this.onHandshake = onHandshake;
    this.state = "connecting";
    this.cometdOptions = cometd;
    this.cometd = null;
  }

  get online() {
    return this.state === "online";
  }

  // transport is the CometD transport in use ("websocket", "long-polling"), for diagnostics.
  get transport() {
    const t = this.cometd && this.cometd.getTransport();
    return t ? t.type : null;
  }

  #setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.onState(s);
  }

  // start handshakes (once); the CometD client reconnects on its own from then on.
  start() {
    if (this.cometd) return;
    const c = new CometD();
    this.cometd = c;
    // websocket: false for sites whose proxies are known to break websockets (the client
    // would fall back by itself, after a failed attempt).
    if (!this.websocket) c.unregisterTransport("websocket");
    c.configure({
      url: `${this.base}/genesys/cometd`,
      logLevel: "warn",
      // Recover within seconds after a network loss rather than the client's default minute.
      backoffIncrement: 500,
      maxBackoff: 5000,
      ...this.cometdOptions,
    });
    c.addListener("/meta/handshake", (m) => {
      if (m.successful) {
        this.#setState("online");
        this.onHandshake();
      } else {
        this.#setState("offline");
      }
    });
    c.addListener("/meta/connect", (m) => {
      if (c.isDisconnected()) return;
      this.#setState(m.successful ? "online" : "offline");
    });
    // A listener, not a subscription: service channels are delivered to the session without
    // /meta/subscribe, and listeners survive re-handshakes.
    c.addListener(this.channel, (m) => {
      if (m.data && typeof m.data === "object") this.onData(m.data);
    });
    c.handshake();
  }

  // publish sends one operation; it resolves when the server took the message (the answer
  // itself arrives on the channel) and rejects when it was not delivered.
  publish(data) {
    return new Promise((resolve, reject) => {
      if (!this.cometd || this.cometd.isDisconnected()) {
        reject(new Error("not connected"));
        return;
      }
      this.cometd.publish(this.channel, data, (reply) => {
        if (reply && reply.successful) resolve(reply);
        else reject(new Error((reply && reply.error) || "publish failed"));
      });
    });
  }

  // refresh reads the transcript from position over REST (answer correlated to the request,
  // which a CometD push is not).
  async refresh(chatId, secureKey, position) {
    const body = new URLSearchParams({ secureKey, transcriptPosition: String(position) });
    const r = await fetch(`${this.base}/genesys/2/chat/${encodeURIComponent(this.service)}/${encodeURIComponent(chatId)}/refresh`, {
      method: "POST",
      body,
      credentials: "include",
      // A network that swallows the answer must not leave the message "sending" for ever.
      signal: AbortSignal.timeout(this.refreshTimeout || REFRESH_TIMEOUT),
    });
    return r.json();
  }

  // ntf posts a file operation to chat-ntf (multipart). It needs the BAYEUX_BROWSER cookie of
  // this browser's Bayeux session, hence credentials. With onProgress it uses XHR, whose
  // upload progress fetch does not report. Resolves with {status, json} or {status, blob}.
  ntf(fields, { file, blob = false, onProgress } = {}) {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    if (file) form.append("file", file, file.name);
    const url = `${this.base}/genesys/2/chat-ntf`;
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open("POST", url);
      x.withCredentials = true;
      x.responseType = blob ? "blob" : "text";
      if (onProgress) x.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      x.onerror = () => reject(new Error("network error"));
      x.onload = async () => {
        const ctype = x.getResponseHeader("Content-Type") || "";
        if (blob && x.status === 200 && !ctype.includes("json")) {
          resolve({ status: x.status, blob: x.response });
          return;
        }
        const text = blob ? await x.response.text() : x.responseText;
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = null;
        }
        resolve({ status: x.status, json });
      };
      x.send(form);
    });
  }

  stop() {
    if (this.cometd) this.cometd.disconnect();
    this.cometd = null;
  }
}
