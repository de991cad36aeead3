// The agent console: log in with the agent API, set the presence, take offers as they
// arrive on the agent's CometD channels, and handle several chats side by side, one pane each
// (chatpane.js: transcript, messages, files, standard responses, contact history, hold,
// release, transfer, invite, leave, end, done). Every button is enabled from the chat's
// capabilities, as the server states them, never from a guess of the console. This module
// keeps the chats' data (one entry per chat, events keyed by index, so a push and an answer
// carrying the same event show it once) and lays the panes out.

import { CometD } from "cometd";
import { api, csrfToken, APIError } from "./api.js";
import { h, $, show, say } from "./dom.js";
import { ChatPane, customerName } from "./chatpane.js";
import { Responses } from "./responses.js";
import { SESSION, enter, logOut, failer } from "./session.js";

const API = "/agent/v1";

const st = {
  id: null,
  account: null,
  presence: null,
  chats: new Map(), // chatId → {chat, events: Map index → event, loaded}
  offers: new Map(), // chatId → offer
  panes: new Map(), // chatId → ChatPane, in the order they were opened
  current: null, // chatId of the pane last focused (the one shown on a phone)
  cometd: null,
};

function call(method, path, body, headers) {
  return api(method, API + path, null, body, headers);
}

// failed reports an error on the status line; a 401 means the session is gone: log in again.
const failed = failer(() => $("status"));

// ---- session ----

async function boot() {
  $("logout").addEventListener("click", logout);
  for (const b of document.querySelectorAll("[data-presence]")) b.addEventListener("click", () => setState(b.dataset.presence));
  document.addEventListener("keydown", onPaneKey);
  const s = await enter(SESSION.agent);
  st.id = s.account.id;
  await start(s);
}

async function logout() {
  if (st.cometd) st.cometd.disconnect();
  st.cometd = null;
  for (const p of st.panes.values()) p.destroy();
  st.panes.clear();
  await logOut(SESSION.agent);
}

// ---- main view ----

const responses = new Responses((method, path, body) => call(method, path, body));

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
// nothing pushed while the desktop was away is missed. The transcripts of the open panes are
// read again too.
async function reload() {
  try {
    const [chats, offers, workbin] = await Promise.all([call("GET", "/chats"), call("GET", "/offers"), call("GET", "/workbin")]);
    st.offers.clear();
    for (const o of offers.offers || []) st.offers.set(o.chatId, o);
    for (const c of chats.chats || []) upsert(c);
    for (const c of workbin.chats || []) upsert(c);
    // Every chat the agent is in has a pane.
    for (const c of chats.chats || []) if (c.state === "joined") openPane(c.chatId, false);
    renderLists();
    responses.refresh().catch(() => {});
    await Promise.all([...st.panes.keys()].map((id) => loadTranscript(id)));
    renderPanes();
  } catch (e) {
    failed(e);
  }
}

async function refreshWorkbin() {
  const r = await call("GET", "/workbin");
  const held = new Set((r.chats || []).map((c) => c.chatId));
  for (const c of r.chats || []) upsert(c);
  // A chat that left the workbin (opened, done) without a push keeps its last view: ask again.
  for (const e of st.chats.values()) {
    if (e.chat.state === "held" && !held.has(e.chat.chatId)) {
      try {
        upsert((await call("GET", `/chats/${encodeURIComponent(e.chat.chatId)}`)));
      } catch {
        // gone: the list shows its last state
      }
    }
  }
  renderLists();
  renderPanes();
}

function connect() {
  const c = new CometD();
  st.cometd = c;
  c.configure({ url: `${location.origin}/genesys/cometd`, logLevel: "warn", backoffIncrement: 500, maxBackoff: 5000 });
  // Every handshake (also the client's own re-handshakes) is authenticated by the session
  // cookie, which the server accepts only with the session's CSRF token in ext and from a
  // page of this origin.
  c.registerExtension("chatgate-agent", { outgoing: (m) => {
    if (m.channel === "/meta/handshake") m.ext = { ...(m.ext || {}), agentCsrf: csrfToken() };
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

async function onChatPush(d) {
  if (!d || !d.chatId) return;
  const e = upsert(d.chat || { chatId: d.chatId });
  if (d.event) e.events.set(d.event.index, d.event);
  // A chat the agent joined without asking here (transfer or invite from another agent, an
  // accept on another tab) gets a pane, with its history.
  if (e.chat.state === "joined" && !st.panes.has(d.chatId)) {
    openPane(d.chatId, false);
    renderLists();
    renderPanes();
    try {
      await loadTranscript(d.chatId);
    } catch (err) {
      failed(err);
    }
  }
  renderLists();
  renderPane(d.chatId);
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
  renderPane(r.chat.chatId);
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

// ---- panes ----

// paneLimit is how many panes the grid shows: the agent's capacity (the account's, or the
// default of its role); panes of chats the agent is no longer in give way first.
function paneLimit() {
  const a = st.account || {};
  return Math.max(1, a.capacity || (a.role === "agent" ? 1 : 10));
}

const paneCtx = {
  call,
  apply: applyResult,
  status: (text, error) => say($("status"), text, error),
  failed,
  me: () => st.id,
  responses,
  focus: (p) => setCurrent(p.id),
  close: (p) => closePane(p.id),
  acted: async (p, action) => {
    // The answer shows the chat as the action left it; whether it is now in the workbin
    // (hold) or out of it (join, done) is the workbin's to say.
    if (["hold", "join", "done"].includes(action)) await refreshWorkbin();
    if (action === "done") closePane(p.id);
  },
};

function openPane(id, focus = true) {
  let p = st.panes.get(id);
  if (!p) {
    p = new ChatPane(id, paneCtx);
    st.panes.set(id, p);
    // Over the limit: close the oldest pane of a chat the agent is not in.
    while (st.panes.size > paneLimit()) {
      const spare = [...st.panes.values()].find((x) => x.id !== id && !x.joined);
      if (!spare) break;
      closePane(spare.id);
    }
  }
  if (focus) setCurrent(id);
  return p;
}

function closePane(id) {
  const p = st.panes.get(id);
  if (!p) return;
  p.destroy();
  st.panes.delete(id);
  if (st.current === id) st.current = [...st.panes.keys()].pop() || null;
  renderLists();
  renderPanes();
}

function setCurrent(id) {
  if (st.current === id) return;
  st.current = id;
  for (const [k, p] of st.panes) p.el.classList.toggle("current", k === id);
  renderLists();
}

function renderPane(id) {
  const p = st.panes.get(id);
  const e = st.chats.get(id);
  if (p && e) p.render(e);
}

// renderPanes puts the open panes into the grid in the order they were opened.
function renderPanes() {
  const grid = $("panes");
  if (st.current && !st.panes.has(st.current)) st.current = null;
  if (!st.current && st.panes.size) st.current = [...st.panes.keys()][0];
  const els = [];
  for (const [id, p] of st.panes) {
    renderPane(id);
    p.el.classList.toggle("current", id === st.current);
    els.push(p.el);
  }
  // Keep panes that are already in place (a moved element loses its focus and scroll).
  const now = [...grid.querySelectorAll(":scope > .chat-pane")];
  if (now.length !== els.length || now.some((el, i) => el !== els[i])) grid.replaceChildren($("no-chat"), ...els);
  grid.dataset.count = String(els.length);
  $("no-chat").hidden = els.length > 0;
}

// select opens (or shows) a chat's pane, reads its transcript and puts the focus in it.
async function select(id) {
  const p = openPane(id);
  renderLists();
  renderPanes();
  try {
    await loadTranscript(id);
    renderPane(id);
  } catch (e) {
    failed(e);
  }
  p.focusComposer();
}

// onPaneKey: Alt+1 … Alt+9 move to the composer of pane 1 … 9.
function onPaneKey(e) {
  if (!e.altKey || e.ctrlKey || e.metaKey || !/^Digit[1-9]$/.test(e.code)) return;
  const p = [...st.panes.values()][Number(e.code.slice(5)) - 1];
  if (!p) return;
  e.preventDefault();
  setCurrent(p.id);
  p.focusComposer();
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

// chatList shows chats as buttons that open their pane; an empty list shows its "none" line.
function chatList(id, list) {
  const panes = [...st.panes.keys()];
  $(id).replaceChildren(...list.map((e) => {
    const c = e.chat;
    const n = panes.indexOf(c.chatId) + 1;
    return h("li", {},
      h("button", {
        type: "button", class: "chat-link", "aria-current": st.current === c.chatId ? "true" : null,
        "aria-keyshortcuts": n > 0 && n < 10 ? `Alt+${n}` : null, onclick: () => select(c.chatId),
      },
      h("span", { class: "card-title" }, customerName(c)),
      h("span", { class: "badge", "data-state": c.state }, c.ended ? "ended" : c.state)));
  }));
  $(`${id}-empty`).hidden = list.length > 0;
}

boot();
