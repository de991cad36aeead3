// The widget's controller: chat lifecycle (pre-chat form → requestChat → chatting → ended),
// the transcript as an index-ordered, duplicate-free list of server events, own messages
// with their delivery state, resume after reload, files, and the panel's open/close and
// focus handling.
//
// Delivery and duplicates. The GMS Chat API has no client message id, so a message is never
// re-published blindly: a message whose fate is unknown (publish failed, error answer, no
// event within sendTimeout) is reconciled first, by reading the transcript from the index
// that was current when it was sent (REST refresh, an answer correlated to its request). If
// the transcript holds an own Message with the same text that no other local message claimed,
// the message was delivered and is marked sent; only otherwise is it marked failed, and a
// retry reconciles once more before it publishes again. See docs/widget.md.

import { SharedConnection } from "./tabs.js";
import { Store } from "./storage.js";
import { el, link, linkify, safeHref, formatBytes } from "./dom.js";
import { build, field } from "./view.js";
import { css } from "./styles.js";
import { EmojiPicker } from "./emoji.js";
import { texts, pickLanguage } from "./i18n.js";
import { PushOptIn } from "./push.js";

const SEND_TIMEOUT = 12000; // ms without the own Message event before reconciling (option sendTimeout)
const START_TIMEOUT = 15000; // ms for the requestChat answer (option startTimeout)
const TYPING_IDLE = 3000; // ms of no input after which stopTyping is sent
const MAX_MESSAGE = 4000; // characters (the server's limit is 16 KiB of UTF-8)

// Default pre-chat form: name (required), email (optional), subject (optional).
const defaultFields = [
  { name: "nickname", required: true, maxLength: 64, autocomplete: "name" },
  { name: "email", type: "email", maxLength: 254, autocomplete: "email" },
  { name: "subject", type: "textarea", maxLength: 500 },
];
const emailRe = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class Widget {
  constructor(cfg) {
    this.cfg = cfg;
    this.lang = cfg.lang ? pickLanguage([cfg.lang]) : pickLanguage(navigator.languages || [navigator.language]);
    this.t = texts(this.lang, cfg.texts);
    this.store = new Store(cfg.server, cfg.service);
    this.session = null; // {chatId, secureKey, userId, alias, participantId, lastIndex, events, unread, ended, nickname}
    this.pending = []; // own messages not yet confirmed: {text, state, since, item, meta, timer}
    this.ahead = new Map(); // events that arrived before a missing lower index
    this.typingPeers = new Map();
    this.phase = "form"; // form | starting | chatting | ended
    this.isOpen = false;
    this.conn = null;
    this.timeFmt = new Intl.DateTimeFormat(this.lang, { hour: "2-digit", minute: "2-digit" });
    this.#mount();
    const saved = this.store.load();
    if (saved) this.#restore(saved);
    else this.#showForm();
    this.onNet = () => this.#banner();
    this.onStorage = (e) => this.#storageChanged(e);
    window.addEventListener("offline", this.onNet);
    window.addEventListener("online", this.onNet);
    window.addEventListener("storage", this.onStorage);
    this.#initPush();
    // #chatgate-open: a click on a push notification (sw.js) opened this page.
    if (cfg.open || location.hash === "#chatgate-open") this.open();
  }

  // ---- Web Push opt-in (push.js) ----

  #initPush() {
    if (this.cfg.push === false) return;
    this.push = new PushOptIn({ ...this.cfg, lang: this.lang });
    if (!this.push.usable()) return;
    const b = this.v.pushBtn;
    b.setAttribute("aria-pressed", String(!!this.push.saved()));
    b.addEventListener("click", () => this.#togglePush());
    // The bell appears only when the server has a VAPID key (push is set up there).
    this.push.publicKey().then((k) => { if (k && this.v) b.hidden = false; }, () => {});
    this.onWorkerMessage = (e) => { if (e.data && e.data.chatgate === "open") this.open(); };
    navigator.serviceWorker.addEventListener("message", this.onWorkerMessage);
    // Opted in earlier: after a VAPID key rotation the stored subscription gets no push any
    // more; renew replaces it (no prompt) and the chat gets the new one like a bell click.
    this.push.renew().then((ud) => { if (ud) this.#pushChanged(ud); }, () => {});
  }

  // pushChanged hands new push userData to the running chat with updateData, or keeps it
  // until there is one online: a chat still starting gets it once started, a tab offline
  // when it comes back. A chat not yet requested takes it from storage at requestChat.
  #pushChanged(ud) {
    this.pushUpdate = ud;
    this.#sendPushUpdate();
  }

  #sendPushUpdate() {
    const s = this.session, ud = this.pushUpdate;
    if (!ud || !s || s.ended || !this.conn || !this.conn.online) return;
    this.conn.publish({ operation: "updateData", secureKey: s.secureKey, userData: ud })
      .then(() => { if (this.pushUpdate === ud) this.pushUpdate = null; }, () => {});
  }

  async #togglePush() {
    const b = this.v.pushBtn;
    const on = b.getAttribute("aria-pressed") === "true";
    b.disabled = true;
    let ud = null;
    try {
      ud = on ? await this.push.disable() : await this.push.enable();
      b.setAttribute("aria-pressed", String(!on));
      b.title = this.t.pushOptIn;
    } catch (e) {
      b.title = e && e.message === "denied" ? this.t.pushDenied : this.t.pushFailed;
      if (this.phase === "form") this.v.formError.textContent = b.title;
      else this.#system(b.title, true);
    } finally {
      b.disabled = false;
    }
    if (ud) this.#pushChanged(ud);
  }

  // ---- structure and panel ----

  #mount() {
    const host = document.createElement("chatgate-widget");
    host.setAttribute("data-service", this.cfg.service);
    const shadow = host.attachShadow({ mode: "open" });
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    shadow.adoptedStyleSheets = [sheet];
    const v = build(this.t, this.cfg.title);
    this.v = v;
    shadow.append(v.root);
    (this.cfg.container || document.body).append(host);
    this.host = host;

    v.launcher.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
    v.minBtn.addEventListener("click", () => this.close());
    v.panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        if (!v.confirm.hidden) this.#confirmEnd(false);
        else this.close();
      }
    });
    v.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.#submitForm();
    });
    v.composer.addEventListener("submit", (e) => {
      e.preventDefault();
      this.#sendFromInput();
    });
    v.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.#sendFromInput();
      }
    });
    v.input.addEventListener("input", () => this.#typed());
    v.attachBtn.addEventListener("click", () => v.file.click());
    this.emoji = new EmojiPicker({ button: v.emojiBtn, input: v.input, label: this.t.emojiGrid, onInsert: () => this.#typed() });
    v.emojiBtn.after(this.emoji.grid);
    v.file.addEventListener("change", () => {
      const f = v.file.files && v.file.files[0];
      v.file.value = "";
      if (f) this.upload(f);
    });
    v.endBtn.addEventListener("click", () => this.#confirmEnd(true));
    v.confirmNo.addEventListener("click", () => this.#confirmEnd(false));
    v.confirmYes.addEventListener("click", () => this.endChat());
    v.newChatBtn.addEventListener("click", () => this.#newChat());
    v.transcriptBtn.addEventListener("click", () => this.downloadTranscript());
  }

  open() {
    const v = this.v;
    this.isOpen = true;
    v.panel.hidden = false;
    v.root.classList.add("open");
    v.launcher.setAttribute("aria-expanded", "true");
    v.launcherLabel.textContent = this.t.close;
    this.#setUnread(0);
    this.#scrollDown();
    this.#focusMain();
  }

  close() {
    const v = this.v;
    this.isOpen = false;
    v.panel.hidden = true;
    v.root.classList.remove("open");
    v.launcher.setAttribute("aria-expanded", "false");
    v.launcherLabel.textContent = this.t.open;
    this.#setUnread(this.session ? this.session.unread || 0 : 0);
    v.launcher.focus();
  }

  #focusMain() {
    const v = this.v;
    if (this.phase === "form") {
      const first = v.formFields.querySelector("input, textarea");
      (first || v.startBtn).focus();
    } else if (this.phase === "ended") v.newChatBtn.focus();
    else v.input.focus();
  }

  #setUnread(n) {
    if (this.session) {
      this.session.unread = n;
      this.#save();
    }
    const v = this.v;
    v.badge.hidden = n === 0;
    v.badge.textContent = n > 99 ? "99+" : String(n);
    v.launcherLabel.textContent = (this.isOpen ? this.t.close : this.t.open) + (n ? `, ${this.t.unread(n)}` : "");
  }

  #banner() {
    const offline = this.phase !== "form" && this.phase !== "ended" &&
      ((this.conn && this.conn.state === "offline") || navigator.onLine === false);
    this.v.banner.hidden = !offline;
    this.v.banner.textContent = offline ? this.t.offline : "";
    this.host.toggleAttribute("data-offline", offline);
  }

  #setPhase(p) {
    this.phase = p;
    const v = this.v;
    v.form.hidden = p !== "form" && p !== "starting";
    v.log.hidden = p === "form" || p === "starting";
    v.composer.hidden = p !== "chatting";
    v.endBtn.hidden = p !== "chatting";
    v.ended.hidden = p !== "ended";
    v.confirm.hidden = true;
    if (this.emoji) this.emoji.close(false);
    v.typing.textContent = "";
    this.host.setAttribute("data-state", p);
    this.#banner();
  }

  #scrollDown() {
    const b = this.v.body;
    b.scrollTop = b.scrollHeight;
  }

  // ---- pre-chat form ----

  #showForm() {
    const v = this.v;
    v.formFields.replaceChildren();
    this.fields = (this.cfg.fields || defaultFields).map((f, i) => {
      const def = { ...f, label: f.label || this.t[f.name] || f.name };
      const w = field(`${v.id}-f${i}`, def);
      v.formFields.append(w.wrap);
      return { def, ...w };
    });
    v.formError.textContent = "";
    v.startBtn.disabled = false;
    this.#setPhase("form");
  }

  #validate() {
    let first = null;
    for (const f of this.fields) {
      const val = f.input.value.trim();
      let err = "";
      if (f.def.required && !val) err = this.t.required;
      else if (val && f.def.type === "email" && !emailRe.test(val)) err = this.t.invalidEmail;
      else if (f.def.maxLength && val.length > f.def.maxLength) err = this.t.tooLong(f.def.maxLength);
      f.error.textContent = err;
      f.input.setAttribute("aria-invalid", err ? "true" : "false");
      if (err && !first) first = f.input;
    }
    if (first) first.focus();
    return !first;
  }

  #submitForm() {
    if (this.phase !== "form" || !this.#validate()) return;
    const data = { operation: "requestChat", userData: { GCTI_Chat_AsyncMode: "true", ...(this.cfg.userData || {}) } };
    // Opted in to Web Push before the chat: the subscription travels with the request.
    const pushData = this.push && this.push.usable() && this.push.saved();
    if (pushData) Object.assign(data.userData, pushData);
    this.pushUpdate = null; // requestChat carries the newest push data
    for (const f of this.fields) {
      const val = f.input.value.trim();
      if (!val) continue;
      const n = f.def.name;
      if (n === "nickname" || n === "firstName" || n === "lastName" || n === "subject") data[n] = val;
      else if (n === "email") data.emailAddress = val;
      else data.userData[n] = val;
    }
    if (!data.nickname) data.nickname = [data.firstName, data.lastName].filter(Boolean).join(" ") || this.t.you;
    this.startData = data;
    this.startSent = false;
    this.v.formError.textContent = "";
    this.v.startBtn.disabled = true;
    this.#setPhase("starting");
    this.v.form.hidden = false;
    clearTimeout(this.startTimer);
    this.startTimer = setTimeout(() => this.#startFailed(), this.cfg.startTimeout || START_TIMEOUT);
    this.#connect();
    if (this.conn.online) this.#publishStart();
  }

  #publishStart() {
    if (this.startSent || !this.startData) return;
    this.startSent = true;
    this.conn.publish(this.startData).catch(() => this.#startFailed());
  }

  #startFailed(advice) {
    if (this.phase !== "starting") return;
    clearTimeout(this.startTimer);
    this.startData = null;
    this.#setPhase("form");
    this.v.startBtn.disabled = false;
    this.v.formError.textContent = advice ? this.t.error(advice) : this.t.startFailed;
  }

  // ---- connection ----

  #connect() {
    if (this.conn) return;
    this.conn = new SharedConnection({
      base: this.cfg.server,
      service: this.cfg.service,
      cometd: this.cfg.cometd,
      refreshTimeout: this.cfg.refreshTimeout,
      websocket: this.cfg.websocket !== false,
      onData: (d) => this.#onData(d),
      onState: () => this.#onState(),
      onHandshake: () => this.#onHandshake(),
    });
    this.conn.start();
  }

  #onState() {
    this.#banner();
    if (this.conn.online) {
      this.#flushQueued();
      this.#sendPushUpdate();
    }
  }

  #onHandshake() {
    if (this.phase === "starting") this.#publishStart();
    else if (this.session && !this.session.ended) {
      // A new Bayeux session: attach it to the chat and replay what this tab has not seen.
      this.conn.publish({
        operation: "requestNotifications",
        secureKey: this.session.secureKey,
        transcriptPosition: String(this.session.lastIndex + 1),
      }).catch(() => {});
      this.#flushQueued();
    }
  }

  #onData(d) {
    if (this.phase === "starting" && d.statusCode === 0 && d.chatId && d.secureKey) {
      this.#started(d);
    }
    const s = this.session;
    if (!s) {
      if (this.phase === "starting" && d.statusCode !== 0) this.#startFailed(advice(d));
      return;
    }
    if (d.chatId && d.chatId !== s.chatId) return;
    if (d.alias) s.alias = d.alias;
    if (d.statusCode !== 0) this.#onFailure(d);
    const evs = Array.isArray(d.messages) ? d.messages : [];
    for (const ev of evs) this.#event(ev, true);
    if (d.chatEnded) this.#ended();
    // A replay is paged: a push whose nextPosition lies beyond what arrived has more behind it.
    else if (evs.length && d.nextPosition - 1 > s.lastIndex) this.#resync();
  }

  #started(d) {
    clearTimeout(this.startTimer);
    const joined = (d.messages || []).find((e) => e.type === "ParticipantJoined");
    this.session = {
      chatId: d.chatId, secureKey: d.secureKey, userId: d.userId || "", alias: d.alias || "",
      participantId: joined && joined.from ? joined.from.participantId : 1,
      nickname: this.startData.nickname, lastIndex: 0, events: [], unread: 0, ended: false,
    };
    this.startData = null;
    this.v.log.replaceChildren();
    this.#setPhase("chatting");
    this.#save();
    if (this.isOpen) this.v.input.focus();
    this.#sendPushUpdate(); // renewed while requestChat was on its way
  }

  #onFailure(d) {
    const why = advice(d);
    const code = d.errors && d.errors[0] && d.errors[0].code;
    if (d.chatEnded) return;
    if (code === 201) {
      // The server does not know this chat with this key (its data was reset, or the chat
      // was purged): nothing can be done in it any more.
      for (const p of this.pending) if (p.state === "sending") this.#state(p, "failed");
      this.#system(this.t.error(why), true);
      this.#ended();
      return;
    }
    const p = this.pending.find((m) => m.state === "sending");
    if (p) this.#reconcile(p);
    else this.#system(this.t.error(why), true);
  }

  // ---- transcript ----

  #restore(saved) {
    this.session = saved;
    this.session.lastIndex = 0;
    const events = saved.events;
    this.session.events = [];
    this.#setPhase(saved.ended ? "ended" : "chatting");
    this.v.log.setAttribute("aria-busy", "true");
    for (const ev of events) this.#event(ev, false);
    this.v.log.removeAttribute("aria-busy");
    this.#setUnread(saved.unread || 0);
    if (!saved.ended) this.#connect();
  }

  // event applies one transcript event once, in index order. live: arrived now (counts as
  // unread, may change state); otherwise replayed from local storage. trusted: part of a
  // REST refresh answer, a complete list of what this customer may see from a position, so
  // a missing index is an event not meant for customers (an agent's internal message), not
  // a loss.
  #event(ev, live, trusted = false) {
    const s = this.session;
    if (!ev || typeof ev !== "object" || !(ev.index > 0)) return; // index 0: answers like file limits
    if (ev.index <= s.lastIndex) return;
    if (ev.index > s.lastIndex + 1 && live && !trusted) {
      // A gap: keep the event until the transcript from the missing index has been read.
      this.ahead.set(ev.index, ev);
      this.#resync();
      return;
    }
    s.lastIndex = ev.index;
    s.events.push(ev);
    this.#render(ev, live);
    if (live) this.#save();
    const next = this.ahead.get(s.lastIndex + 1);
    if (next) {
      this.ahead.delete(next.index);
      this.#event(next, live);
    }
  }

  // resync reads the transcript from the last index seen over REST, page by page (an answer
  // holds at most a page of events), until it is caught up; then applies what waited in
  // ahead. Used for gaps and when a push says the server has more (nextPosition).
  async #resync() {
    if (this.resyncing || !this.conn) return;
    this.resyncing = true;
    let complete = false;
    try {
      for (let page = 0; page < 100; page++) {
        const s = this.session;
        if (!s || s.ended || !this.conn) break;
        const from = s.lastIndex + 1;
        const r = await this.conn.refresh(s.chatId, s.secureKey, from);
        if (!r || r.statusCode !== 0 || this.session !== s) break;
        const evs = Array.isArray(r.messages) ? r.messages : [];
        for (const ev of evs) this.#event(ev, true, true);
        // Everything below nextPosition was considered for this answer: what is missing
        // there is not for customers.
        if (r.nextPosition - 1 > s.lastIndex) s.lastIndex = r.nextPosition - 1;
        if (r.chatEnded) this.#ended();
        if (evs.length === 0 || s.lastIndex + 1 === from) {
          complete = true;
          break;
        }
      }
    } catch {
      // offline: the next handshake replays from the last index seen
    } finally {
      this.resyncing = false;
    }
    const s = this.session;
    if (!s || !complete) return; // what waits in ahead stays until the gap is filled
    for (const i of [...this.ahead.keys()].sort((a, b) => a - b)) {
      const ev = this.ahead.get(i);
      this.ahead.delete(i);
      this.#event(ev, true, true);
    }
    this.#save();
  }

  #kind(from) {
    const s = this.session;
    const type = from && from.type;
    if (type === "Client" && from.participantId === s.participantId) return "own";
    if (type === "External") return "bot";
    if (type === "System") return "system";
    return "agent";
  }

  #render(ev, live) {
    const from = ev.from || {};
    const kind = this.#kind(from);
    const who = kind === "own" ? this.t.you : from.nickname || this.t.someone;
    const at = new Date(ev.utcTime || Date.now());
    let notify = false;
    switch (ev.type) {
      case "Message": {
        this.typingPeers.delete(from.participantId);
        this.#showTyping();
        if (kind === "own" && this.#claim(ev)) return;
        this.#bubble(kind, who, linkify(ev.text), at, ev, kind === "own" ? this.t.sent : "");
        notify = kind !== "own";
        break;
      }
      case "PushUrl": {
        const href = safeHref(ev.text);
        this.#bubble(kind, who, href ? link(href, ev.text) : ev.text || "", at, ev, "");
        notify = kind !== "own";
        break;
      }
      case "FileUploaded":
        this.#file(kind, who, at, ev);
        notify = kind !== "own";
        break;
      case "FileDeleted":
        this.#system(this.t.fileRemoved, false, ev);
        break;
      case "ParticipantJoined":
        this.#system(kind === "own" ? this.t.chatStarted : this.t.joined(who), false, ev);
        break;
      case "ParticipantLeft":
        this.typingPeers.delete(from.participantId);
        this.#showTyping();
        if (kind !== "own") this.#system(this.t.left(who), false, ev);
        else if (live) this.#ended();
        break;
      case "NicknameUpdated":
        this.#system(this.t.renamed(from.nickname || ""), false, ev);
        break;
      case "Notice":
        if (!ev.text) return;
        this.#system(ev.text, !!(ev.userData && ev.userData["idle-control"]), ev);
        notify = true;
        break;
      case "TypingStarted":
        if (kind !== "own" && live) {
          this.typingPeers.set(from.participantId, who);
          this.#showTyping();
        }
        return;
      case "TypingStopped":
        this.typingPeers.delete(from.participantId);
        this.#showTyping();
        return;
      default:
        return; // CustomNotice and unknown types are for desktops, not customers
    }
    if (live && notify && !this.isOpen) this.#setUnread((this.session.unread || 0) + 1);
    this.#scrollDown();
  }

  #showTyping() {
    const names = [...this.typingPeers.values()];
    this.v.typing.textContent = names.length ? this.t.typing(names.join(", ")) : "";
  }

  #time(at) {
    return el("time", { datetime: at.toISOString() }, this.timeFmt.format(at));
  }

  #bubble(kind, who, content, at, ev, status) {
    const meta = el("div", { class: "meta" }, this.#time(at), status ? ` · ${status}` : "");
    const item = el("div", { class: `item ${kind}`, "data-index": ev ? ev.index : null, "data-kind": kind },
      el("div", { class: "who" }, who),
      el("div", { class: "bubble" }, content),
      meta);
    this.v.log.append(item);
    return { item, meta };
  }

  #system(text, alert, ev) {
    const item = el("div", { class: `item system${alert ? " alert" : ""}`, "data-index": ev ? ev.index : null, "data-kind": "system" }, text);
    if (alert && !ev) item.setAttribute("role", "alert");
    this.v.log.append(item);
    this.#scrollDown();
    return item;
  }

  #file(kind, who, at, ev) {
    const ud = ev.userData || {};
    const name = ud["file-name"] || "file";
    const btn = el("button", { class: "linkbtn", type: "button" }, `${this.t.download} ${name}`);
    const size = Number(ud["file-size"]);
    btn.addEventListener("click", () => this.download(ud["file-id"], name));
    this.#bubble(kind, who, [this.t.fileShared(who), " ", btn, size >= 0 ? ` (${formatBytes(size)})` : ""], at, ev, "");
  }

  // ---- own messages ----

  #sendFromInput() {
    const v = this.v;
    const text = v.input.value.trim();
    if (!text || this.phase !== "chatting") return;
    v.input.value = "";
    this.#stopTyping(false);
    this.send(text.slice(0, MAX_MESSAGE));
  }

  send(text) {
    const p = { text, state: "queued", since: this.session.lastIndex };
    const { item, meta } = this.#bubble("own", this.t.you, linkify(text), new Date(), null, "");
    p.item = item;
    p.meta = meta;
    this.pending.push(p);
    this.#state(p, "sending");
    this.#publishSend(p);
    this.#scrollDown();
  }

  #publishSend(p) {
    if (!this.conn || !this.conn.online) {
      p.queued = true; // published when the connection is back (after the replay)
      return;
    }
    p.queued = false;
    p.since = this.session.lastIndex;
    clearTimeout(p.timer);
    p.timer = setTimeout(() => this.#reconcile(p), this.cfg.sendTimeout || SEND_TIMEOUT);
    this.conn.publish({ operation: "sendMessage", secureKey: this.session.secureKey, message: p.text })
      .catch(() => this.#reconcile(p));
  }

  #flushQueued() {
    for (const p of this.pending) if (p.queued && p.state === "sending") this.#publishSend(p);
  }

  // claim binds an own Message event to the oldest local message with the same text.
  #claim(ev) {
    const i = this.pending.findIndex((p) => p.text === ev.text && p.state !== "sent" && !p.queued);
    if (i < 0) return false;
    const p = this.pending[i];
    this.pending.splice(i, 1);
    clearTimeout(p.timer);
    p.item.setAttribute("data-index", String(ev.index));
    this.#state(p, "sent");
    return true;
  }

  #state(p, state) {
    p.state = state;
    const item = p.item;
    item.classList.toggle("failed", state === "failed");
    item.setAttribute("data-state", state);
    const label = state === "sending" ? this.t.sending : state === "sent" ? this.t.sent : this.t.failed;
    const parts = [p.meta.firstChild, ` · ${label}`];
    if (state === "failed") {
      const retry = el("button", { class: "linkbtn", type: "button" }, this.t.retry);
      retry.addEventListener("click", () => this.retry(p));
      parts.push(" ", retry);
      p.retryBtn = retry;
    }
    p.meta.replaceChildren(...parts);
  }

  // reconcile settles a message whose fate is unknown by reading the transcript.
  async #reconcile(p) {
    if (p.state !== "sending" || p.reconciling) return;
    p.reconciling = true;
    clearTimeout(p.timer);
    try {
      const s = this.session;
      const r = await this.conn.refresh(s.chatId, s.secureKey, p.since + 1);
      if (r && r.statusCode === 0) {
        for (const ev of r.messages || []) this.#event(ev, true, true);
        if (r.chatEnded) this.#ended();
      }
    } catch {
      // offline: cannot tell; treated as not delivered, a retry reconciles again
    }
    p.reconciling = false;
    if (p.state === "sending") this.#state(p, "failed");
  }

  async retry(p) {
    if (p.state !== "failed") return;
    this.#state(p, "sending");
    this.v.input.focus(); // the retry button is gone; the composer is the natural next stop
    await this.#reconcile(p);
    if (p.state === "failed") {
      // Not in the transcript: publishing again cannot duplicate it.
      this.#state(p, "sending");
      this.#publishSend(p);
    }
    if (p.state === "failed" && p.retryBtn) p.retryBtn.focus();
  }

  // ---- typing ----

  #typed() {
    if (this.phase !== "chatting" || !this.conn || !this.conn.online) return;
    const text = this.v.input.value;
    if (!text) {
      this.#stopTyping(true);
      return;
    }
    if (!this.typingSent) {
      this.typingSent = true;
      const d = { operation: "startTyping", secureKey: this.session.secureKey };
      if (this.cfg.typingPreview) d.message = text.slice(0, 200);
      this.conn.publish(d).catch(() => {});
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.#stopTyping(true), TYPING_IDLE);
  }

  #stopTyping(notify) {
    clearTimeout(this.typingTimer);
    if (!this.typingSent) return;
    this.typingSent = false;
    if (notify && this.conn && this.conn.online) {
      this.conn.publish({ operation: "stopTyping", secureKey: this.session.secureKey }).catch(() => {});
    }
  }

  // ---- files ----

  async upload(file) {
    if (this.phase !== "chatting") return;
    const s = this.session;
    const note = this.#system(this.t.uploading(file.name), false);
    const progress = el("progress", { class: "progress", max: "1", value: "0" });
    note.append(progress);
    try {
      const lim = await this.conn.ntf({ operation: "fileGetLimits", secureKey: s.secureKey });
      const refusal = lim.json && lim.json.statusCode === 0 ? this.#checkLimits(file, limitsOf(lim.json)) : advice(lim.json);
      if (refusal) {
        note.replaceWith(this.#refused(refusal));
        return;
      }
      const r = await this.conn.ntf({ operation: "fileUpload", secureKey: s.secureKey }, { file, onProgress: (f) => { progress.value = f; } });
      if (!r.json || r.json.statusCode !== 0) note.replaceWith(this.#refused(advice(r.json) || `HTTP ${r.status}`));
      else note.remove(); // the FileUploaded event shows the file
    } catch (e) {
      note.replaceWith(this.#refused(e.message));
    }
  }

  #refused(why) {
    const item = el("div", { class: "item system alert", role: "alert", "data-kind": "system" }, this.t.uploadRefused(why));
    this.#scrollDown();
    return item;
  }

  // checkLimits applies the server's per-file limits before sending the bytes; counts and
  // totals are left to the server, whose refusal is shown as it comes.
  #checkLimits(file, l) {
    const max = Number(l["upload-max-file-size"]);
    if (max >= 0 && file.size > max) return this.t.fileTooBig(formatBytes(max));
    const maxFiles = Number(l["upload-max-files"]);
    if (maxFiles === 0) return this.t.noMoreFiles;
    const types = (l["upload-file-types"] || "").split(":").map((x) => x.trim().toLowerCase().replace(/^\./, "")).filter(Boolean);
    const ext = (file.name.split(".").pop() || "").toLowerCase();
    if (types.length && (!file.name.includes(".") || !types.includes(ext))) return this.t.fileType(types.join(", "));
    return "";
  }

  async download(fileId, name) {
    const r = await this.conn.ntf({ operation: "fileDownload", secureKey: this.session.secureKey, fileId }, { blob: true })
      .catch((e) => ({ json: { errors: [{ advice: e.message }] } }));
    if (!r.blob) {
      this.#system(this.t.error(advice(r.json)), true);
      return;
    }
    saveBlob(r.blob, name);
  }

  // ---- ending ----

  #confirmEnd(show) {
    const v = this.v;
    v.confirm.hidden = !show;
    if (show) this.emoji.close(false);
    v.composer.hidden = show || this.phase !== "chatting";
    if (show) v.confirmYes.focus();
    else if (this.phase === "chatting") v.endBtn.focus();
  }

  async endChat() {
    if (this.phase !== "chatting") return;
    try {
      await this.conn.publish({ operation: "disconnect", secureKey: this.session.secureKey });
    } catch (e) {
      this.#system(this.t.error(e.message), true);
      return;
    }
    this.#ended();
  }

  #ended() {
    if (!this.session || this.phase === "ended") return;
    this.session.ended = true;
    this.#save();
    for (const p of this.pending) clearTimeout(p.timer);
    this.typingPeers.clear();
    this.#setPhase("ended");
    if (this.conn) {
      this.conn.stop();
      this.conn = null;
    }
    if (this.isOpen) this.v.newChatBtn.focus();
  }

  #newChat() {
    this.store.clear();
    this.session = null;
    this.pending = [];
    this.ahead.clear();
    this.v.log.replaceChildren();
    this.#setUnread(0);
    this.#showForm();
    this.#focusMain();
  }

  downloadTranscript() {
    const s = this.session;
    if (!s) return;
    const lines = [`${this.t.transcriptTitle} ${s.chatId}`, ""];
    for (const ev of s.events) {
      const when = new Date(ev.utcTime || 0).toISOString().replace("T", " ").slice(0, 19);
      const from = ev.from || {};
      const who = this.#kind(from) === "own" ? this.t.you : from.nickname || this.t.someone;
      if (ev.type === "Message" || ev.type === "PushUrl" || ev.type === "Notice") lines.push(`[${when}] ${who}: ${ev.text || ""}`);
      else if (ev.type === "FileUploaded") lines.push(`[${when}] ${who}: ${(ev.userData || {})["file-name"] || "file"}`);
      else if (ev.type === "ParticipantJoined") lines.push(`[${when}] ${this.t.joined(who)}`);
      else if (ev.type === "ParticipantLeft") lines.push(`[${when}] ${this.t.left(who)}`);
    }
    saveBlob(new Blob([lines.join("\n") + "\n"], { type: "text/plain;charset=utf-8" }), `chat-${s.chatId}.txt`);
  }

  #save() {
    if (this.session) this.store.save(this.session);
  }

  // storageChanged follows another tab of this browser: a chat started there appears here
  // (this tab then shares the leader's connection), a new chat started after the end too.
  #storageChanged(e) {
    if (e.key !== this.store.key) return;
    const mine = this.session;
    if (mine && !mine.ended) return; // an active chat is followed over the connection
    const saved = this.store.load();
    if (saved && (!mine || saved.chatId !== mine.chatId)) {
      this.v.log.replaceChildren();
      this.pending = [];
      this.ahead.clear();
      this.#restore(saved);
      if (this.isOpen) this.#focusMain();
    } else if (!saved && mine && this.phase === "ended") {
      this.session = null;
      this.v.log.replaceChildren();
      this.#setUnread(0);
      this.#showForm();
    }
  }

  destroy() {
    window.removeEventListener("offline", this.onNet);
    window.removeEventListener("online", this.onNet);
    window.removeEventListener("storage", this.onStorage);
    if (this.onWorkerMessage) navigator.serviceWorker.removeEventListener("message", this.onWorkerMessage);
    clearTimeout(this.startTimer);
    clearTimeout(this.typingTimer);
    for (const p of this.pending) clearTimeout(p.timer);
    if (this.conn) this.conn.stop();
    this.conn = null;
    this.host.remove();
  }
}

function advice(d) {
  const e = d && Array.isArray(d.errors) && d.errors[0];
  return (e && e.advice) || "";
}

function limitsOf(d) {
  const n = (d.messages || []).find((m) => m.type === "Notice" && m.text === "file-client-cfg-get");
  return (n && n.userData) || {};
}

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.rel = "noopener";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
