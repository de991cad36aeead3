// Web Push opt-in (docs/widget.md "Web Push"). The customer turns it on with the bell in the
// header; the widget then registers its service worker, subscribes with the server's VAPID
// public key (GET /genesys/2/chat-push/vapid) and hands the subscription to chatgate as push
// data in userData (docs/push.md §1): at requestChat when opted in before the chat starts,
// otherwise with updateData. Turning it off unsubscribes and sends
// push_notification_type=comet, which stops the pushes.
//
// A service worker must come from the page's own origin, so the worker at
// <server>/widget/sw.js serves pages on chatgate's origin (the demo page, a same-site
// widget). A site on another origin hosts a copy of sw.js itself and names it with the
// serviceWorker option; without one the bell is not shown.
//
// The choice and the subscription are kept in localStorage, so a reload or a new chat keeps
// them without asking the browser again. Each page load with push on checks that the
// browser's subscription was made with the key the server serves now (renew): after an
// administrator rotates the VAPID key the push service refuses every push to a subscription
// of the old key, and a subscription's key cannot be changed, only replaced.

export const VAPID_PATH = "/genesys/2/chat-push/vapid";

export function pushSupported() {
  return typeof window !== "undefined" && window.isSecureContext && "serviceWorker" in navigator &&
    "PushManager" in window && "Notification" in window;
}

// b64url decodes a base64url string to bytes (applicationServerKey).
function b64url(s) {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

// sameKey: the subscription's options.applicationServerKey (an ArrayBuffer, null when it was
// made without one) holds exactly these bytes.
function sameKey(buf, bytes) {
  if (!buf || buf.byteLength !== bytes.length) return false;
  const a = new Uint8Array(buf);
  return bytes.every((x, i) => a[i] === x);
}

// activeRegistration registers the worker and waits until it is active (subscribe needs an
// active worker; navigator.serviceWorker.ready would wait forever for a page outside the
// worker's scope).
async function activeRegistration(url) {
  const reg = await navigator.serviceWorker.register(url, { scope: new URL(".", url).pathname });
  if (reg.active) return reg;
  const sw = reg.installing || reg.waiting;
  await new Promise((resolve, reject) => {
    const check = () => {
      if (sw.state === "activated") resolve();
      else if (sw.state === "redundant") reject(new Error("service worker failed to install"));
    };
    sw.addEventListener("statechange", check);
    check();
  });
  return reg;
}

export class PushOptIn {
  // cfg: server (origin), service, serviceWorker (URL, optional), provider (optional), lang.
  constructor(cfg) {
    this.server = cfg.server;
    this.provider = cfg.pushProvider || "";
    this.lang = cfg.lang;
    this.key = `chatgate:push:v1:${cfg.server}:${cfg.service}`;
    let sw = cfg.serviceWorker;
    if (!sw && cfg.server === location.origin) sw = `${cfg.server}/widget/sw.js`;
    if (sw) {
      const u = new URL(sw, location.href);
      // Where a notification click leads: this page (without its fragment).
      u.searchParams.set("open", location.pathname + location.search);
      sw = u.origin === location.origin ? u.href : null;
    }
    this.swURL = sw || null;
  }

  usable() {
    return pushSupported() && !!this.swURL;
  }

  // publicKey asks the server for its VAPID key; null when it has none (204: push is not
  // set up there).
  async publicKey() {
    const q = this.provider ? `?provider=${encodeURIComponent(this.provider)}` : "";
    const r = await fetch(`${this.server}${VAPID_PATH}${q}`, { credentials: "omit" });
    if (r.status !== 200) return null;
    const j = await r.json();
    return typeof j.publicKey === "string" && j.publicKey ? j.publicKey : null;
  }

  // saved is the userData of the stored subscription, or null when not opted in.
  saved() {
    try {
      const v = JSON.parse(localStorage.getItem(this.key) || "null");
      return v && typeof v === "object" && v.push_notification_subscription ? v : null;
    } catch {
      return null;
    }
  }

  // enable asks for permission, subscribes and returns the push userData. Throws
  // Error("denied") when the customer refused notifications.
  async enable() {
    const key = await this.publicKey();
    if (!key) throw new Error("no VAPID key");
    if (Notification.permission !== "granted" && (await Notification.requestPermission()) !== "granted") {
      throw new Error("denied");
    }
    return this.#subscribe(await activeRegistration(this.swURL), key);
  }

  // renew, for a customer who is opted in and has granted permission (it never prompts),
  // compares the browser's subscription with the served key and, when the key differs (a
  // rotation) or the browser has no subscription any more (the stored one is dead too),
  // unsubscribes and subscribes with the served key. Returns the new push userData, to be
  // sent like the bell sends it, or null when nothing changed.
  async renew() {
    if (!this.usable() || !this.saved() || Notification.permission !== "granted") return null;
    const key = await this.publicKey();
    if (!key) return null; // push switched off on the server: nothing to renew with
    let reg = await navigator.serviceWorker.getRegistration(this.swURL);
    if (!reg || !reg.active) reg = await activeRegistration(this.swURL);
    const sub = await reg.pushManager.getSubscription();
    if (sub && sameKey(sub.options && sub.options.applicationServerKey, b64url(key))) return null;
    if (sub) await sub.unsubscribe();
    return this.#subscribe(reg, key);
  }

  async #subscribe(reg, key) {
    const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64url(key) });
    const ud = {
      push_notification_type: "webpush",
      push_notification_subscription: JSON.stringify(sub),
    };
    if (this.provider) ud.push_notification_provider = this.provider;
    if (this.lang) ud.push_notification_language = this.lang;
    try {
      localStorage.setItem(this.key, JSON.stringify(ud));
    } catch {
      // Without storage the subscription still goes to the current chat.
    }
    return ud;
  }

  // disable unsubscribes and returns the userData that stops the pushes.
  async disable() {
    try {
      localStorage.removeItem(this.key);
    } catch {
      // ignore
    }
    try {
      const reg = await navigator.serviceWorker.getRegistration(this.swURL);
      const sub = reg && (await reg.pushManager.getSubscription());
      if (sub) await sub.unsubscribe();
    } catch {
      // The server stops pushing anyway once it reads the comet type.
    }
    return { push_notification_type: "comet" };
  }
}
