// The agent console: log in with the agent API, set the presence, take offers as they
// arrive on the agent's CometD channels, and handle the chats (transcript, messages, hold,
// release, leave, end, done). Every button is enabled from the chat's capabilities, as the
// server states them, never from a guess of the console.

import { CometD } from "cometd";
import { api, stored, APIError } from "./api.js";
import { h, $, show, say } from "./dom.js";

const API = "/agent/v1";
const KEY = "chatgate:agent";

// GCTI_Chat_AsyncStatus as docs/agent-api.md names them.
const ASYNC = {
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

const st = {
  token: null,
  id: null,
  account: null,
  presence: null,
  chats: new Map(), // chatId → {chat, events: Map index → event, loaded}
  offers: new Map(), // chatId → offer
  selected: null,
  cometd: null,
  typing: null, // chatId the agent announced typing in, or null
  typingTimer: 0,
};

function call(method, path, body) {
  return api(method, API + path, st.token, body);
}

// failed reports an error on the status line; a 401 means the session is gone: log in again.
function failed(e) {
  if (e instanceof APIError && e.status === 401) {
    logout(false);
    say($("login-status"), "Your session ended. Please log in again.", true);
    return;
  }
  say($("status"), e.message, true);
}

// ---- login ----

async function boot() {
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", () => logout(true));
  for (const b of document.querySelectorAll("[data-presence]")) b.addEventListener("click", () => setState(b.dataset.presence));
  $("composer").addEventListener("submit", onSend);
  $("msg").addEventListener("input", onTyped);
  $("msg").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("done-form").addEventListener("submit", onDone);
  $("transfer-form").addEventListener("submit", onTransfer);
  const s = stored.get(KEY);
  if (s && s.token) {
    st.token = s.token;
    st.id = s.id;
    try {
      const me = await call("GET", "/me");
      await start(me);
      return;
    } catch {
      stored.set(KEY, null);
      st.token = null;
    }
  }
  show("login");
  $("login-id").focus();
}

async function onLogin(e) {
  e.preventDefault();
  const id = $("login-id").value.trim();
  const password = $("login-password").value;
  const out = $("login-status");
  if (!id || !password) {
    say(out, "Enter your id and password.", true);
    (id ? $("login-password") : $("login-id")).focus();
    return;
  }
  say(out, "Logging in…");
  try {
    const r = await api("POST", API + "/login", null, { id, password });
    st.token = r.token;
    st.id = r.account.id;
    stored.set(KEY, { token: st.token, id: st.id });
    $("login-password").value = "";
    say(out, "");
    await start(await call("GET", "/me"));
  } catch (err) {
    say(out, err.status === 401 ? "Wrong id or password." : err.message, true);
    $("login-password").focus();
  }
}

async function logout(tellServer) {
  const token = st.token;
  if (st.cometd) st.cometd.disconnect();
  st.cometd = null;
  stored.set(KEY, null);
  Object.assign(st, { token: null, id: null, account: null, presence: null, selected: null });
  st.chats.clear();
  st.offers.clear();
  if (tellServer && token) await api("POST", API + "/logout", token, {}).catch(() => {});
  show("login");
  $("login-id").focus();
}

// ---- main view ----

async function start(me) {
  st.account = me.account;
  st.presence = me.presence;
  $("who").textContent = `${me.account.displayName || me.account.id} (${me.account.role})`;
  show("main");
  renderPresence();
  connect();
  await reload();
  $("state-ready").focus();
}

// reload reads the lists over REST: at start and after every new Bayeux session, so that
// nothing pushed while the desktop was away is missed.
async function reload() {
  try {
    const [chats, offers, workbin] = await Promise.all([call("GET", "/chats"), call("GET", "/offers"), call("GET", "/workbin")]);
    st.offers.clear();
    for (const o of offers.offers || []) st.offers.set(o.chatId, o);
    for (const c of chats.chats || []) upsert(c);
    for (const c of workbin.chats || []) upsert(c);
    renderLists();
    if (st.selected) await loadTranscript(st.selected);
  } catch (e) {
    failed(e);
  }
}

async function refreshWorkbin() {
  const r = await call("GET", "/workbin");
  for (const c of r.chats || []) upsert(c);
  renderLists();
  if (st.selected) renderChat();
}

function connect() {
  const c = new CometD();
  st.cometd = c;
  c.configure({ url: `${location.origin}/genesys/cometd`, logLevel: "warn", backoffIncrement: 500, maxBackoff: 5000 });
  // The agent token goes into every handshake (also the client's own re-handshakes).
  c.registerExtension("chatgate-agent", { outgoing: (m) => {
    if (m.channel === "/meta/handshake") m.ext = { ...(m.ext || {}), agentToken: st.token };
    return m;
  } });
  c.addListener("/meta/handshake", (m) => {
    if (!m.successful) {
      setConn("offline");
      if (/401/.test(String(m.error || ""))) failed(new APIError(401, null));
      return;
    }
    setConn("online");
    // A new session has no subscriptions: subscribe again, then read what may have been
    // missed.
    c.clearSubscriptions();
    c.batch(() => {
      c.subscribe(`/agent/${st.id}/offers`, (msg) => onOffer(msg.data));
      c.subscribe(`/agent/${st.id}/chat`, (msg) => onChatPush(msg.data));
      c.subscribe(`/agent/${st.id}/presence`, (msg) => {
        st.presence = msg.data;
        renderPresence();
      });
    });
    reload();
  });
  c.addListener("/meta/connect", (m) => {
    if (!c.isDisconnected()) setConn(m.successful ? "online" : "offline");
  });
  c.handshake();
}

function setConn(s) {
  const el = $("conn");
  el.textContent = s === "online" ? "Connected" : "Reconnecting…";
  el.dataset.state = s;
}

async function setState(state) {
  // Asked here, on the agent's click, because browsers allow the question only on a gesture.
  if (state === "ready" && typeof Notification !== "undefined" && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
  try {
    const r = await call("PUT", "/me/state", { state });
    st.presence = r.presence || r;
    renderPresence();
    say($("status"), state === "ready" ? "You are ready for chats." : "You are not ready.");
  } catch (e) {
    failed(e);
  }
}

function renderPresence() {
  const s = (st.presence && st.presence.state) || "logged-out";
  $("presence").textContent = s === "ready" ? "Ready" : s === "not-ready" ? "Not ready" : "Logged out";
  $("presence").dataset.state = s;
  for (const b of document.querySelectorAll("[data-presence]")) b.setAttribute("aria-pressed", String(b.dataset.presence === s));
}

// ---- offers and chats ----

// announceOffer draws attention to a new offer: a short tone (Web Audio, no file to load) and, if
// the agent allowed it, a browser notification (useful when the console is in the
// background). Both are best effort: a browser that refuses them still shows the offer.
let audio = null;
function announceOffer(d) {
  try {
    audio = audio || new AudioContext();
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = 880;
    g.gain.setValueAtTime(0.15, audio.currentTime);
    g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    o.connect(g).connect(audio.destination);
    o.start();
    o.stop(audio.currentTime + 0.4);
  } catch {
    // no audio device or not allowed: the offer is on screen anyway
  }
  if (typeof Notification !== "undefined" && Notification.permission === "granted") {
    const c = d.chat || {};
    const n = new Notification("New chat offer", { body: `${customerName(c)} · queue ${d.queue || c.queue || ""}`, tag: `offer-${d.chatId}` });
    n.onclick = () => window.focus();
  }
}

function onOffer(d) {
  if (!d || !d.chatId) return;
  if (d.type === "offer") {
    if (!st.offers.has(d.chatId)) announceOffer(d);
    st.offers.set(d.chatId, d);
    say($("status"), `New chat offered from queue ${d.queue || (d.chat && d.chat.queue) || ""}.`);
  } else if (d.type === "withdrawn") {
    st.offers.delete(d.chatId);
  }
  renderLists();
}

function onChatPush(d) {
  if (!d || !d.chatId) return;
  const e = upsert(d.chat || { chatId: d.chatId });
  if (d.event) e.events.set(d.event.index, d.event);
  renderLists();
  if (st.selected === d.chatId) renderChat();
}

// upsert records the latest view of a chat (the server's, as every answer carries it).
function upsert(chat) {
  let e = st.chats.get(chat.chatId);
  if (!e) {
    e = { chat, events: new Map(), loaded: false };
    st.chats.set(chat.chatId, e);
  } else if (chat.state) {
    e.chat = chat;
  }
  return e;
}

async function answer(offer, action) {
  try {
    const r = await call("POST", `/chats/${encodeURIComponent(offer)}/${action}`, {});
    st.offers.delete(offer);
    if (action === "accept") {
      applyResult(r);
      say($("status"), `Chat with ${customerName(r.chat)} accepted.`);
      await select(offer);
    } else {
      say($("status"), "Offer rejected.");
      renderLists();
    }
  } catch (e) {
    st.offers.delete(offer);
    renderLists();
    failed(e);
  }
}

function applyResult(r) {
  if (!r || !r.chat) return;
  const e = upsert(r.chat);
  for (const ev of r.events || []) e.events.set(ev.index, ev);
  renderLists();
  if (st.selected === r.chat.chatId) renderChat();
}

async function loadTranscript(id) {
  const e = st.chats.get(id);
  if (!e) return;
  let from = 1;
  for (let page = 0; page < 50; page++) {
    const r = await call("GET", `/chats/${encodeURIComponent(id)}/transcript?from=${from}`);
    for (const ev of r.events || []) e.events.set(ev.index, ev);
    if (!r.more || !r.next || r.next <= from) break;
    from = r.next;
  }
  e.loaded = true;
}

async function select(id) {
  st.selected = id;
  renderLists();
  renderChat();
  try {
    await loadTranscript(id);
    renderChat();
  } catch (e) {
    failed(e);
  }
  $("msg").focus();
}

function renderLists() {
  const offers = $("offers");
  offers.replaceChildren(...[...st.offers.values()].map((o) => {
    const c = o.chat || {};
    const label = `${c.subject || c.service || o.queue || "chat"}`;
    return h("li", { class: "card offer" },
      h("div", { class: "card-title" }, label),
      h("div", { class: "muted" }, `Queue ${o.queue || c.queue || "?"}${o.lastAgent ? " · you had it before" : ""}`),
      h("div", { class: "row" },
        h("button", { class: "primary", type: "button", onclick: () => answer(o.chatId, "accept"), "aria-label": `Accept ${label}` }, "Accept"),
        h("button", { type: "button", onclick: () => answer(o.chatId, "reject"), "aria-label": `Reject ${label}` }, "Reject")));
  }));
  $("offers-empty").hidden = st.offers.size > 0;
  const all = [...st.chats.values()].filter((e) => e.chat.state && e.chat.state !== "offered");
  chatList("chats", all.filter((e) => e.chat.state !== "held"));
  chatList("workbin", all.filter((e) => e.chat.state === "held"));
}

// chatList shows chats as buttons that open them; an empty list shows its "none" line.
function chatList(id, list) {
  $(id).replaceChildren(...list.map((e) => {
    const c = e.chat;
    return h("li", {},
      h("button", { type: "button", class: "chat-link", "aria-current": st.selected === c.chatId ? "true" : null, onclick: () => select(c.chatId) },
        h("span", { class: "card-title" }, customerName(c)),
        h("span", { class: "badge", "data-state": c.state }, c.ended ? "ended" : c.state)));
  }));
  $(`${id}-empty`).hidden = list.length > 0;
}

function customerName(c) {
  const p = (c.participants || []).find((x) => x.type === "Client");
  return (p && p.nickname) || c.subject || c.chatId;
}

function renderChat() {
  const e = st.chats.get(st.selected);
  $("chat").hidden = !e;
  $("no-chat").hidden = !!e;
  if (!e) return;
  const c = e.chat;
  $("chat-title").textContent = customerName(c);
  const status = c.async ? `Async status ${c.asyncStatus ?? 0}: ${ASYNC[c.asyncStatus ?? 0] || "unknown"}` : "Not async";
  $("chat-meta").textContent = `${c.service} · ${c.ended ? "ended" : c.state} · ${status}`;
  $("chat-meta").dataset.asyncStatus = String(c.asyncStatus ?? 0);
  const log = $("log");
  const events = [...e.events.values()].sort((a, b) => a.index - b.index);
  log.replaceChildren(...events.map(renderEvent).filter(Boolean));
  $("typing").textContent = typingLine(events);
  log.scrollTop = log.scrollHeight;
  const caps = new Set(c.capabilities || []);
  $("actions").replaceChildren(...ACTIONS.filter(([a]) => caps.has(a)).map(([a, label]) =>
    h("button", { type: "button", class: a === "end" ? "danger" : "", "data-action": a, onclick: () => act(a) }, label)));
  const canSend = caps.has("send");
  $("msg").disabled = !canSend;
  $("send").disabled = !canSend;
  $("done-form").hidden = !caps.has("done");
  $("transfer-form").hidden = !caps.has("transfer") && !caps.has("invite");
  $("transfer").hidden = !caps.has("transfer");
  $("invite").hidden = !caps.has("invite");
}

// typingLine names the customers typing now: a TypingStarted not yet followed by their
// TypingStopped, message or departure.
function typingLine(events) {
  const typing = new Map();
  for (const ev of events) {
    const f = ev.from || {};
    if (f.type !== "Client") continue;
    if (ev.type === "TypingStarted") typing.set(f.participantId, f.nickname || "The customer");
    else if (["TypingStopped", "Message", "ParticipantLeft"].includes(ev.type)) typing.delete(f.participantId);
  }
  const names = [...typing.values()];
  return names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
}

function renderEvent(ev) {
  const who = (ev.from && ev.from.nickname) || "";
  const type = ev.from && ev.from.type;
  const time = ev.utcTime ? new Date(ev.utcTime).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  if (ev.type === "Message") {
    const kind = type === "Client" ? "customer" : type === "External" ? "bot" : "agent";
    return h("div", { class: `msg ${kind}${ev.visibility && ev.visibility !== "ALL" ? " internal" : ""}`, "data-index": ev.index },
      h("div", { class: "who" }, who, ev.visibility && ev.visibility !== "ALL" ? ` · ${ev.visibility === "INT" ? "internal" : "supervisor only"}` : ""),
      h("div", { class: "text" }, ev.text || ""),
      h("time", {}, time));
  }
  const line = {
    ParticipantJoined: `${who} joined`,
    ParticipantLeft: `${who} left`,
    CustomNotice: `${who}: ${ev.text || ""}`,
    PushUrl: `${who} sent a link: ${ev.text || ""}`,
  }[ev.type];
  if (!line) return null;
  return h("div", { class: "system", "data-index": ev.index }, line);
}

async function act(action, body = {}) {
  const id = st.selected;
  try {
    applyResult(await call("POST", `/chats/${encodeURIComponent(id)}/${action}`, body));
    // The answer shows the chat as the action left it; whether it is now in the workbin
    // (hold) or out of it (join, done) is the workbin's to say.
    if (["hold", "join", "done"].includes(action)) await refreshWorkbin();
    say($("status"), `${action}: done.`);
  } catch (e) {
    failed(e);
  }
}

// onTyped announces typing once per burst and its end after TYPING_IDLE without input (a
// sent message ends it for the other side without a typing-stop).
function onTyped() {
  const id = st.selected;
  if (!id) return;
  if (!$("msg").value) {
    stopTyping(true);
    return;
  }
  if (st.typing !== id) {
    stopTyping(true);
    st.typing = id;
    call("POST", `/chats/${encodeURIComponent(id)}/typing-start`, {}).catch(() => {});
  }
  clearTimeout(st.typingTimer);
  st.typingTimer = setTimeout(() => stopTyping(true), TYPING_IDLE);
}

function stopTyping(notify) {
  clearTimeout(st.typingTimer);
  const id = st.typing;
  st.typing = null;
  if (notify && id) call("POST", `/chats/${encodeURIComponent(id)}/typing-stop`, {}).catch(() => {});
}

async function onSend(e) {
  e.preventDefault();
  const text = $("msg").value.trim();
  if (!text || !st.selected) return;
  $("send").disabled = true;
  stopTyping(false);
  try {
    applyResult(await call("POST", `/chats/${encodeURIComponent(st.selected)}/send`, { text }));
    $("msg").value = "";
  } catch (err) {
    failed(err);
  } finally {
    $("send").disabled = false;
    $("msg").focus();
  }
}

// onTransfer hands the chat to another agent (transfer) or adds one (invite: conference),
// whichever button submitted the form; Enter in the field is a transfer.
async function onTransfer(e) {
  e.preventDefault();
  const action = (e.submitter && e.submitter.dataset.action) || "transfer";
  const agent = $("transfer-to").value.trim();
  if (!agent) {
    say($("status"), "Enter the id of the other agent.", true);
    $("transfer-to").focus();
    return;
  }
  await act(action, { agent });
}

async function onDone(e) {
  e.preventDefault();
  await act("done", { disposition: $("disposition").value.trim() });
}

boot();
