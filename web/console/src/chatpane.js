// One chat pane of the agent console: the chat's title and status line (state,
// GCTI_Chat_AsyncStatus in words, GCTI_Chat_AsyncCheckAt), the buttons its capabilities
// allow, the transcript (history included, files downloadable), the customer typing, the
// composer with standard responses (shortcut + Tab/Enter, picker on Alt+R), file upload with
// the chat's limits, transfer / invite, done with a disposition, and the customer's contact
// history (earlier chats, read-only). agent.js keeps the chats' data and lays the panes out;
// a pane only draws one chat and sends that chat's actions.

import { h } from "./dom.js";
import { APIError } from "./api.js";
import { Picker, PICKER_KEY, shortcutBefore, insert } from "./responses.js";

// GCTI_Chat_AsyncStatus as docs/agent-api.md names them.
export const ASYNC = {
  "-1": "an agent handles it",
  "-2": "on hold in a workbin",
  0: "none",
  1: "new",
  2: "the customer wrote",
  3: "idle alert",
  4: "agent lost",
  5: "released to the queue",
};

// The actions shown as buttons when the chat's capabilities include them.
const ACTIONS = [
  ["join", "Open"],
  ["hold", "Hold"],
  ["release", "Release to queue"],
  ["leave", "Leave"],
  ["end", "End chat"],
];

const TYPING_IDLE = 3000; // ms of no input after which typing-stop is sent

export function customerName(c) {
  const p = (c.participants || []).find((x) => x.type === "Client");
  return (p && p.nickname) || c.subject || c.chatId;
}

export function formatSize(n) {
  n = Number(n) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// when shows a time, with the date when it is not today.
function when(ms) {
  const d = new Date(ms);
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}`;
}

// asyncLine is the chat's async status in words and its check-at time.
export function asyncLine(c) {
  if (!c.async) return { status: "Not async", checkAt: "" };
  const s = c.asyncStatus ?? 0;
  const at = Number((c.properties || {}).GCTI_Chat_AsyncCheckAt || 0);
  // GCTI_Chat_AsyncCheckAt is set by the first idle alert (or a restoration) and then
  // follows activity.
  return { status: `Async status ${s}: ${ASYNC[s] || "unknown"}`, checkAt: at > 0 ? `check at ${when(at * 1000)}` : "no check-at yet" };
}

// typingLine names the customers typing now: a TypingStarted not yet followed by their
// TypingStopped, message or departure.
export function typingLine(events) {
  const typing = new Map();
  for (const ev of events) {
    const f = ev.from || {};
    if (f.type !== "Client") continue;
    if (ev.type === "TypingStarted") typing.set(f.participantId, f.nickname || "The customer");
    else if (["TypingStopped", "Message", "ParticipantLeft", "FileUploaded"].includes(ev.type)) typing.delete(f.participantId);
  }
  const names = [...typing.values()];
  return names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
}

// renderEvent draws one transcript event; download, when given, makes a file downloadable.
export function renderEvent(ev, download) {
  const who = (ev.from && ev.from.nickname) || "";
  const type = ev.from && ev.from.type;
  const time = ev.utcTime ? new Date(ev.utcTime).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  const kind = type === "Client" ? "customer" : type === "External" ? "bot" : "agent";
  const internal = ev.visibility && ev.visibility !== "ALL";
  if (ev.type === "Message") {
    return h("div", { class: `msg ${kind}${internal ? " internal" : ""}`, "data-index": ev.index },
      h("div", { class: "who" }, who, internal ? ` · ${ev.visibility === "INT" ? "internal" : "supervisor only"}` : ""),
      h("div", { class: "text" }, ev.text || ""),
      h("time", {}, time));
  }
  if (ev.type === "FileUploaded") {
    const u = ev.userData || {};
    const name = u["file-name"] || "file";
    const label = `${name} (${formatSize(u["file-size"])})`;
    return h("div", { class: `msg file ${kind}`, "data-index": ev.index, "data-file-id": u["file-id"] || "" },
      h("div", { class: "who" }, who, " sent a file"),
      download && u["file-id"]
        ? h("button", { type: "button", class: "file-link", "aria-label": `Download ${label}`, onclick: () => download(u["file-id"], name) }, `⬇ ${label}`)
        : h("div", { class: "text" }, label),
      u["file-description"] ? h("div", { class: "text" }, u["file-description"]) : null,
      h("time", {}, time));
  }
  const line = {
    ParticipantJoined: `${who} joined`,
    ParticipantLeft: `${who} left`,
    CustomNotice: `${who}: ${ev.text || ""}`,
    PushUrl: `${who} sent a link: ${ev.text || ""}`,
    FileDeleted: `${who} deleted a file`,
  }[ev.type];
  if (!line) return null;
  return h("div", { class: "system", "data-index": ev.index }, line);
}

let seq = 0;

// ChatPane draws one chat. ctx: call(method, path, body) (the agent API, relative to
// /agent/v1), apply(answer) (records an answer's chat and events), status(text, error),
// failed(error), me() (the agent's id), responses (a Responses), focus(pane), close(pane),
// acted(pane, action) (after an action succeeded).
export class ChatPane {
  constructor(chatId, ctx) {
    this.id = chatId;
    this.ctx = ctx;
    this.n = ++seq;
    this.entry = null;
    this.typing = false;
    this.typingTimer = 0;
    this.limits = null; // {maxFileSize, fileTypes} once read
    this.unsent = null; // {text, after}: a send whose answer was lost (see send)
    const p = `pane${this.n}`;
    const path = `/chats/${encodeURIComponent(chatId)}`;
    this.path = path;

    this.title = h("h2", { class: "chat-title", id: `${p}-title` });
    this.meta = h("p", { class: "chat-meta muted" });
    this.actions = h("div", { class: "actions row" });
    this.historyBtn = h("button", { type: "button", class: "history-toggle", "aria-expanded": "false", "aria-controls": `${p}-history`, onclick: () => this.toggleHistory() }, "Contact history");
    this.closeBtn = h("button", { type: "button", class: "pane-close", onclick: () => ctx.close(this) }, "Close");
    this.history = h("section", { class: "history card", id: `${p}-history`, hidden: true, "aria-label": "Contact history" });
    this.log = h("div", { class: "log chat-log", role: "log", "aria-live": "polite", tabindex: "0" });
    this.typingEl = h("p", { class: "typing muted", "aria-live": "polite" });
    this.input = h("textarea", {
      class: "composer-input", id: `${p}-msg`, rows: "2",
      placeholder: `Write a message · Enter sends · /shortcut then Tab inserts · ${PICKER_KEY} responses`,
      "aria-keyshortcuts": `Enter Shift+Enter Tab ${PICKER_KEY}`,
      "aria-describedby": "shortcuts-help",
    });
    this.pickBtn = h("button", { type: "button", class: "pick", "aria-haspopup": "dialog", "aria-expanded": "false", "aria-keyshortcuts": PICKER_KEY, onclick: () => this.openPicker() }, "Responses");
    this.sendBtn = h("button", { class: "primary send", type: "submit" }, "Send");
    this.picker = new Picker(ctx.responses, (r) => this.pickResponse(r), () => this.pickerClosed());
    this.composer = h("form", { class: "composer" },
      h("label", { for: `${p}-msg`, class: "visually-hidden" }, "Message"),
      this.input, this.pickBtn, this.sendBtn);
    this.fileInput = h("input", { type: "file", class: "file-input", id: `${p}-file`, "aria-describedby": `${p}-file-hint` });
    this.fileHint = h("span", { class: "muted hint file-hint", id: `${p}-file-hint` });
    this.files = h("div", { class: "files row" }, h("label", { for: `${p}-file` }, "Send a file"), this.fileInput, this.fileHint);
    this.transferTo = h("input", { class: "transfer-to", id: `${p}-transfer`, autocomplete: "off" });
    this.transferForm = h("form", { class: "transfer-form row", hidden: true },
      h("label", { for: `${p}-transfer` }, "Other agent"), this.transferTo,
      h("button", { type: "submit", "data-action": "transfer" }, "Transfer"),
      h("button", { type: "submit", "data-action": "invite" }, "Invite"));
    this.disposition = h("input", { class: "disposition", id: `${p}-disp`, maxlength: "256" });
    this.doneForm = h("form", { class: "done-form row", hidden: true },
      h("label", { for: `${p}-disp` }, "Disposition"), this.disposition, h("button", { type: "submit" }, "Done"));
    this.status = h("p", { class: "pane-status", role: "status" });

    this.el = h("section", { class: "chat-pane card", "data-chat-id": chatId, "aria-labelledby": `${p}-title` },
      h("div", { class: "chat-head" },
        h("div", { class: "chat-head-text" }, this.title, this.meta),
        h("div", { class: "row" }, this.historyBtn, this.closeBtn)),
      this.actions, this.history, this.log, this.typingEl, this.picker.el, this.composer, this.files,
      this.transferForm, this.doneForm, this.status);

    this.el.addEventListener("focusin", () => ctx.focus(this));
    this.composer.addEventListener("submit", (e) => {
      e.preventDefault();
      this.send();
    });
    this.input.addEventListener("input", () => this.typed());
    this.input.addEventListener("keydown", (e) => this.key(e));
    this.input.addEventListener("focus", () => {
      if (!ctx.responses.fresh()) ctx.responses.refresh().catch(() => {});
    });
    this.fileInput.addEventListener("change", () => this.upload());
    this.transferForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const action = (e.submitter && e.submitter.dataset.action) || "transfer";
      const agent = this.transferTo.value.trim();
      if (!agent) {
        this.say("Enter the id of the other agent.", true);
        this.transferTo.focus();
        return;
      }
      this.act(action, { agent });
    });
    this.doneForm.addEventListener("submit", (e) => {
      e.preventDefault();
      this.act("done", { disposition: this.disposition.value.trim() });
    });
  }

  name() {
    return this.entry ? customerName(this.entry.chat) : this.id;
  }

  say(text, error = false) {
    this.status.textContent = text;
    this.status.classList.toggle("error", error);
    this.ctx.status(text, error);
  }

  fail(e) {
    if (e instanceof APIError && e.status === 401) {
      this.ctx.failed(e);
      return;
    }
    this.say(e.message, true);
  }

  get joined() {
    return !!this.entry && this.entry.chat.state === "joined";
  }

  // render draws the chat from its entry ({chat, events: Map index → event}).
  render(entry) {
    this.entry = entry;
    const c = entry.chat;
    const name = customerName(c);
    this.title.textContent = name;
    const a = asyncLine(c);
    this.meta.replaceChildren(
      h("span", { class: "pane-state" }, `${c.service} · ${c.ended ? "ended" : c.state}`), " · ",
      h("span", { class: "async-status" }, a.status),
      a.checkAt ? " · " : "", a.checkAt ? h("span", { class: "check-at" }, a.checkAt) : "");
    this.meta.dataset.asyncStatus = String(c.asyncStatus ?? 0);
    this.log.setAttribute("aria-label", `Transcript with ${name}`);
    this.history.setAttribute("aria-label", `Contact history of ${name}`);
    this.input.setAttribute("aria-label", `Message to ${name}`);
    const caps = new Set(c.capabilities || []);
    const present = caps.has("send");
    const events = [...entry.events.values()].sort((x, y) => x.index - y.index);
    const stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.log.replaceChildren(...events.map((ev) => renderEvent(ev, present ? (id, n) => this.download(id, n) : null)).filter(Boolean));
    if (stick) this.log.scrollTop = this.log.scrollHeight;
    this.typingEl.textContent = typingLine(events);
    this.actions.replaceChildren(...ACTIONS.filter(([x]) => caps.has(x)).map(([x, label]) =>
      h("button", { type: "button", class: x === "end" ? "danger" : "", "data-action": x, "aria-label": `${label}: ${name}`, onclick: () => this.act(x) }, label)));
    this.input.disabled = !present;
    this.sendBtn.disabled = !present;
    this.pickBtn.disabled = !present;
    this.files.hidden = !present;
    this.fileInput.disabled = !present;
    this.closeBtn.hidden = present;
    this.closeBtn.setAttribute("aria-label", `Close the pane of ${name}`);
    this.doneForm.hidden = !caps.has("done");
    this.transferForm.hidden = !caps.has("transfer") && !caps.has("invite");
    this.transferForm.querySelector('[data-action="transfer"]').hidden = !caps.has("transfer");
    this.transferForm.querySelector('[data-action="invite"]').hidden = !caps.has("invite");
    if (!present && this.picker.open) this.picker.hide();
    if (present && !this.limits) this.loadLimits();
    this.checkUnsent();
  }

  focusComposer() {
    if (!this.input.disabled) this.input.focus();
    else this.el.querySelector("button:not([hidden]):not(:disabled)")?.focus();
  }

  async act(action, body = {}) {
    try {
      this.ctx.apply(await this.ctx.call("POST", `${this.path}/${action}`, body));
      this.say(`${action}: done.`);
      await this.ctx.acted(this, action);
    } catch (e) {
      this.fail(e);
    }
  }

  // ---- composer ----

  // key handles Enter (send, or insert the shortcut before the caret), Tab (insert the
  // shortcut) and the picker key.
  key(e) {
    if (e.altKey && !e.ctrlKey && !e.metaKey && e.code === "KeyR") {
      e.preventDefault();
      this.openPicker();
      return;
    }
    const enter = e.key === "Enter" && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey;
    const tab = e.key === "Tab" && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey;
    if (!enter && !tab) return;
    const sc = shortcutBefore(this.input);
    if (sc) {
      if (this.ctx.responses.fresh()) {
        const r = this.ctx.responses.byShortcut(sc.token);
        if (r) {
          e.preventDefault();
          insert(this.input, sc.start, sc.end, r.text);
          return;
        }
      } else {
        // The list may be out of date (an admin just added or edited a response): read it
        // again, then insert, or else send (Enter) or move on (Tab).
        e.preventDefault();
        const done = () => {
          const r = this.ctx.responses.byShortcut(sc.token);
          if (r && this.input.value.slice(sc.start, sc.end) === sc.token) insert(this.input, sc.start, sc.end, r.text);
          else if (enter) this.composer.requestSubmit();
          else this.pickBtn.focus();
        };
        this.ctx.responses.refresh().then(done, done);
        return;
      }
    }
    if (enter) {
      e.preventDefault();
      this.composer.requestSubmit();
    }
  }

  openPicker() {
    if (this.input.disabled) return;
    this.pickerAt = { start: this.input.selectionStart, end: this.input.selectionEnd };
    this.pickBtn.setAttribute("aria-expanded", "true");
    this.picker.show();
  }

  pickResponse(r) {
    this.pickBtn.setAttribute("aria-expanded", "false");
    const at = this.pickerAt || { start: this.input.value.length, end: this.input.value.length };
    this.input.focus();
    insert(this.input, at.start, at.end, r.text);
  }

  pickerClosed() {
    this.pickBtn.setAttribute("aria-expanded", "false");
    this.input.focus();
  }

  // typed announces typing once per burst and its end after TYPING_IDLE without input (a
  // sent message ends it for the other side without a typing-stop).
  typed() {
    if (!this.input.value) {
      this.stopTyping(true);
      return;
    }
    if (!this.typing) {
      this.typing = true;
      this.ctx.call("POST", `${this.path}/typing-start`, {}).catch(() => {});
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(true), TYPING_IDLE);
  }

  stopTyping(notify) {
    clearTimeout(this.typingTimer);
    const was = this.typing;
    this.typing = false;
    if (notify && was) this.ctx.call("POST", `${this.path}/typing-stop`, {}).catch(() => {});
  }

  // send posts the composer's text with an Idempotency-Key. A send that failed without a
  // definite answer (the network, a 409 while the first call still runs, a 5xx) may still
  // have been stored: the pane keeps its key, so sending the same text again acts at most
  // once (the server repeats the first answer), and the browser's own retry of a POST on a
  // reset connection carries the same key too. When the transcript is read again (after a
  // reconnect) and already has the message, the pane clears the composer and says so.
  async send() {
    const text = this.input.value.trim();
    if (!text) return;
    this.sendBtn.disabled = true;
    this.stopTyping(false);
    const retry = this.unsent && this.unsent.text === text ? this.unsent : null;
    const attempt = retry || { text, key: newKey(), after: this.entry ? lastIndex(this.entry) : 0 };
    try {
      this.ctx.apply(await this.ctx.call("POST", `${this.path}/send`, { text }, { "Idempotency-Key": attempt.key }));
      this.unsent = null;
      // Clear only what was sent: the agent may have typed the next message while this one
      // was on its way, and that text must stay.
      if (this.input.value.trim() === text) this.input.value = "";
      this.status.textContent = "";
    } catch (err) {
      const definite = err instanceof APIError && err.status < 500 && !(err.body && err.body.code === "idempotency_in_progress");
      this.unsent = definite ? null : attempt;
      this.fail(err);
    } finally {
      this.sendBtn.disabled = !this.joined;
      this.input.focus();
    }
  }

  // checkUnsent clears a remembered send whose message is in the transcript; true if so.
  checkUnsent() {
    const u = this.unsent;
    if (!u || !this.entry) return false;
    const me = this.ctx.me();
    const arrived = [...this.entry.events.values()].some((ev) =>
      ev.index > u.after && ev.type === "Message" && ev.text === u.text && ev.from && ev.from.userId === me);
    if (!arrived) return false;
    this.unsent = null;
    if (this.input.value.trim() === u.text) this.input.value = "";
    this.say("Your message had arrived; it was not sent twice.");
    return true;
  }

  // ---- files ----

  async loadLimits() {
    this.limits = {}; // once per pane
    try {
      this.limits = await this.ctx.call("GET", `${this.path}/files/limits`);
      const types = (this.limits.fileTypes || []).join(", ");
      this.fileHint.textContent = `Up to ${formatSize(this.limits.maxFileSize)}${types ? `; ${types}` : ""}`;
      this.fileInput.setAttribute("accept", (this.limits.fileTypes || []).map((t) => `.${t}`).join(","));
    } catch {
      this.limits = null; // try again at the next render
    }
  }

  async upload() {
    const f = this.fileInput.files && this.fileInput.files[0];
    if (!f) return;
    const body = new FormData();
    body.append("file", f, f.name);
    this.say(`Sending ${f.name}…`);
    try {
      const r = await this.ctx.call("POST", `${this.path}/files`, body);
      this.ctx.apply(r);
      this.say(`Sent ${f.name} (${formatSize(f.size)}).`);
    } catch (e) {
      this.fail(e); // the server's refusal as it is, e.g. too large or a type not allowed
    } finally {
      this.fileInput.value = "";
    }
  }

  async download(fileId, name) {
    try {
      const blob = await this.ctx.call("GET", `${this.path}/files/${encodeURIComponent(fileId)}`);
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (e) {
      this.fail(e);
    }
  }

  // ---- contact history ----

  async toggleHistory() {
    const open = this.history.hidden;
    this.history.hidden = !open;
    this.historyBtn.setAttribute("aria-expanded", String(open));
    if (open) await this.showHistoryList();
  }

  async showHistoryList() {
    const heading = h("h3", {}, "Earlier chats of this customer");
    this.history.replaceChildren(heading, h("p", { class: "muted" }, "Loading…"));
    try {
      const r = await this.ctx.call("GET", `${this.path}/history`);
      const chats = r.chats || [];
      this.history.replaceChildren(heading, chats.length
        ? h("ul", { class: "list" }, ...chats.map((c) => h("li", {},
          h("button", { type: "button", class: "chat-link history-item", "data-chat-id": c.chatId, onclick: () => this.showEarlier(c) },
            h("span", { class: "card-title" }, `${when(Date.parse(c.created))} · ${c.subject || c.service}`),
            h("span", { class: "badge" }, c.ended ? "ended" : c.state)))))
        : h("p", { class: "muted" }, "No earlier chats (by e-mail address or customer id)."));
    } catch (e) {
      this.history.replaceChildren(heading, h("p", { class: "error" }, e.message));
    }
  }

  // showEarlier reads an earlier chat's transcript through this chat (read-only).
  async showEarlier(c) {
    const back = h("button", { type: "button", onclick: () => this.showHistoryList().then(() => this.history.querySelector("button")?.focus()) }, "Back to the list");
    const log = h("div", { class: "log history-log", role: "log", tabindex: "0", "aria-label": `Earlier chat of ${when(Date.parse(c.created))}, read-only` });
    this.history.replaceChildren(h("div", { class: "row" }, h("h3", {}, `${when(Date.parse(c.created))} · ${c.subject || c.service} (read-only)`), back), log);
    back.focus();
    try {
      const events = [];
      let from = 1;
      for (let page = 0; page < 50; page++) {
        const r = await this.ctx.call("GET", `${this.path}/history/${encodeURIComponent(c.chatId)}/transcript?from=${from}`);
        events.push(...(r.events || []));
        if (!r.more || !r.next || r.next <= from) break;
        from = r.next;
      }
      log.replaceChildren(...events.map((ev) => renderEvent(ev, null)).filter(Boolean));
    } catch (e) {
      log.replaceChildren(h("p", { class: "error" }, e.message));
    }
  }

  destroy() {
    this.stopTyping(true);
    this.el.remove();
  }
}

// newKey is a random Idempotency-Key (crypto.getRandomValues works on plain http too).
function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function lastIndex(entry) {
  let n = entry.chat.lastIndex || 0;
  for (const k of entry.events.keys()) n = Math.max(n, k);
  return n;
}
