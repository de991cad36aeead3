// The supervisor wall board: log in with the agent API (role supervisor), receive the board
// live over CometD (board.js: queues with their longest wait, agents, live chats and the
// chart's samples, whole boards at most once a second), draw the last hour's samples as
// inline SVG, and monitor, coach or barge into a chat with its transcript. While CometD is
// down the page says so and reads the REST supervisor lists every few seconds instead (a
// missed tick is repaired by the next one); the first board after the connection is back
// stops the polling.

import { api, APIError, csrfToken } from "./api.js";
import { h, $, show, say } from "./dom.js";
import { SESSION, enter, logOut, failer } from "./session.js";
import { liveBoard } from "./board.js";

const API = "/agent/v1";
const TICK = 3000; // ms between refreshes of the board while CometD is down
const HOUR = 3600 * 1000;
const SVG = "http://www.w3.org/2000/svg";

const MODES = {
  monitor: "Monitoring: only supervisors see what you write; nobody sees you.",
  coach: "Coaching: the agents see what you write, the customer does not.",
  barge: "Barged in: everyone in the chat sees what you write.",
};

const st = {
  account: null,
  timer: 0,
  busy: false,
  board: null, // the CometD board connection (board.js)
  mode: "", // "live" (boards over CometD) or "polling" (REST, while CometD is down)
  samples: [], // {t, open, waiting, rate}: the server's samples of the last hour (rate: messages/s)
  live: [], // the live chats of the last board
  reading: Promise.resolve(), // the watched chat's transcript reads, one after the other
  watching: null, // chatId the supervisor opened
  chat: null, // its latest view
  events: new Map(), // index → event of the watched chat
  next: 1, // next transcript index to read
};

function call(method, path, body) {
  return api(method, API + path, null, body);
}

const failed = failer(() => $("status"));

// ---- session ----

async function boot() {
  $("logout").addEventListener("click", logout);
  for (const b of document.querySelectorAll("button[data-mode]")) b.addEventListener("click", () => setMode(b.dataset.mode));
  $("leave").addEventListener("click", leave);
  $("composer").addEventListener("submit", onSend);
  $("msg").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });
  await start(await enter(SESSION.supervisor));
}

async function logout() {
  clearInterval(st.timer);
  stopBoard();
  st.account = null;
  await logOut(SESSION.supervisor);
}

async function start(me) {
  if (me.account.role !== "supervisor") throw new APIError(403, { error: "not a supervisor" });
  st.account = me.account;
  $("who").textContent = `${me.account.displayName || me.account.id} (supervisor)`;
  show("main");
  drawChart(Date.now());
  startBoard();
}

// ---- the board ----

function startBoard() {
  stopBoard();
  st.mode = "";
  badge("Connecting…", "offline");
  st.board = liveBoard({
    id: st.account.id,
    // The console's handshake: the session cookie, with the session's CSRF token in ext.
    ext: () => ({ agentCsrf: csrfToken() }),
    onBoard,
    onState: (s) => setFeed(s === "live" ? "live" : "polling"),
    unauthorized: () => failed(new APIError(401, null)),
  });
}

function stopBoard() {
  if (st.board) st.board.stop();
  st.board = null;
}

// setFeed switches between the live board and polling the REST lists while CometD is down.
function setFeed(m) {
  if (m === st.mode || !st.account) return;
  st.mode = m;
  clearInterval(st.timer);
  st.timer = 0;
  if (m === "live") {
    badge("Live", "online");
    return;
  }
  badge(`Live updates are down: reading the lists every ${TICK / 1000} s`, "offline");
  tick();
  st.timer = setInterval(tick, TICK);
}

function badge(text, state) {
  const el = $("updated");
  el.textContent = text;
  el.dataset.state = state;
}

function stamp() {
  $("updated").dataset.updated = new Date().toISOString();
}

// onBoard renders a board from CometD: a snapshot replaces the chart's samples, an update
// adds its own.
function onBoard(b) {
  render(b.queues || [], b.agents || [], b.chats || []);
  const pts = (b.samples || []).map((p) => ({ t: Date.parse(p.at), open: p.open, waiting: p.waiting, rate: p.messagesPerSecond }));
  if (b.type === "snapshot") st.samples = pts;
  else for (const p of pts) if (!st.samples.length || p.t > st.samples[st.samples.length - 1].t) st.samples.push(p);
  const now = Date.now();
  while (st.samples.length && st.samples[0].t < now - HOUR) st.samples.shift();
  drawChart(now);
  stamp();
  // The watched chat grew: read its transcript past what is shown.
  const w = st.watching && st.live.find((c) => c.chatId === st.watching);
  if (w && w.lastIndex >= st.next) {
    // One read at a time, in order; each reads from where the previous one stopped.
    st.reading = st.reading.then(() => (st.watching === w.chatId ? refreshWatched() : null)).catch(failed);
  }
}

function render(qs, agents, live) {
  renderQueues(qs);
  renderAgents(agents);
  renderLive(live);
}

// tick reads every list once over REST (only while CometD is down); ticks never overlap (a
// slow server skips a tick). The chart keeps the server's samples: it resumes with the next
// board.
async function tick() {
  if (st.busy || !st.account || st.mode !== "polling") return;
  st.busy = true;
  try {
    const [queues, agents, chats] = await Promise.all([
      call("GET", "/supervisor/queues"), call("GET", "/supervisor/agents"), call("GET", "/supervisor/chats")]);
    const qs = queues.queues || [];
    const waitingLists = await Promise.all(qs.map((q) =>
      call("GET", `/supervisor/queues/${encodeURIComponent(q.name)}`).catch(() => null)));
    // The longest wait as the board has it: the oldest since of the queue's list.
    const withWait = qs.map((q, i) => {
      const l = (waitingLists[i] && waitingLists[i].chats) || [];
      return { ...q, longestWaitSince: l.reduce((m, c) => (!m || c.since < m ? c.since : m), null) };
    });
    if (st.mode !== "polling") return; // a board arrived meanwhile: it is newer
    render(withWait, agents.agents || [], chats.chats || []);
    if (st.watching) await refreshWatched();
    stamp();
  } catch (e) {
    badge("Not updated", "offline");
    failed(e);
  } finally {
    st.busy = false;
  }
}

// waitFor formats how long since a time (ISO string) is, e.g. "2 min 05 s".
function waited(since) {
  const s = Math.max(0, Math.round((Date.now() - new Date(since).getTime()) / 1000));
  return s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s` : `${s} s`;
}

function renderQueues(qs) {
  $("queues").tBodies[0].replaceChildren(...qs.map((q) => {
    const oldest = q.longestWaitSince;
    return h("tr", { "data-queue": q.name },
      h("th", { scope: "row" }, q.name),
      h("td", { "data-col": "waiting" }, q.waiting),
      h("td", { "data-col": "longest" }, oldest ? waited(oldest) : "—"),
      h("td", {}, q.active),
      h("td", {}, q.ready));
  }));
}

const STATE = { ready: "Ready", "not-ready": "Not ready", "logged-out": "Logged out" };

function renderAgents(list) {
  const people = list.filter((p) => p.role === "agent" || p.role === "bot");
  $("agents").tBodies[0].replaceChildren(...people.map((p) =>
    h("tr", { "data-agent": p.id },
      h("th", { scope: "row" }, p.displayName || p.id),
      h("td", {}, (STATE[p.state] || p.state) + (p.reason ? ` (${p.reason})` : "") + (p.connected ? "" : " · offline")),
      h("td", {}, `${p.chats} of ${p.capacity}`),
      h("td", {}, (p.queues || []).join(", ")))));
}

function customerName(c) {
  const p = (c.participants || []).find((x) => x.type === "Client");
  return (p && p.nickname) || c.subject || c.chatId;
}

function agentNames(c) {
  return (c.participants || []).filter((p) => p.present && (p.type === "Agent" || p.type === "External"))
    .map((p) => p.nickname || p.userId).join(", ") || "none";
}

// status says what the chat waits for: its async status (GCTI_Chat_AsyncStatus) or whether
// an agent is in it.
const ASYNC = { "-1": "agent handles it", "-2": "on hold", 1: "new", 2: "customer wrote", 3: "idle alert", 4: "agent lost", 5: "released" };
function status(c) {
  if (c.async) return `${ASYNC[c.asyncStatus ?? 0] || "none"} (${c.asyncStatus ?? 0})`;
  return agentNames(c) === "none" ? "waiting" : "with an agent";
}

function checkAt(c) {
  const v = Number((c.properties || {}).GCTI_Chat_AsyncCheckAt || 0);
  return v ? new Date(v * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "—";
}

function renderLive(list) {
  st.live = list;
  $("live").tBodies[0].replaceChildren(...list.map((c) => {
    const name = customerName(c);
    // "Open" for a chat the supervisor is in (also after a reload of the page), else a
    // silent join.
    const mine = c.chatId === st.watching || c.state === "joined";
    return h("tr", { "data-chat": c.chatId },
      h("th", { scope: "row" }, name),
      h("td", {}, c.queue),
      h("td", {}, agentNames(c)),
      h("td", {}, status(c)),
      h("td", {}, checkAt(c)),
      h("td", {}, h("button", { type: "button", "aria-label": `${mine ? "Open" : "Monitor"} the chat with ${name}`, "aria-current": c.chatId === st.watching ? "true" : null,
        onclick: () => watch(c) }, mine ? "Open" : "Monitor")));
  }));
  $("live-empty").hidden = list.length > 0;
  if (st.watching && !list.some((c) => c.chatId === st.watching) && st.chat) st.chat = { ...st.chat, ended: true };
}

// ---- the chart ----
// The samples are the server's (every 10 s: open chats, waiting chats, messages per second
// of the supervisor's queues); a snapshot brings the last hour, so a reload keeps the chart.

function el(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function drawChart(now) {
  const W = 600, H = 160, L = 34, B = 18, T = 8;
  const s = st.samples;
  const max = Math.max(4, ...s.map((p) => Math.max(p.open, p.waiting, p.rate)));
  const x = (t) => L + ((t - (now - HOUR)) / HOUR) * (W - L - 4);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const last = s[s.length - 1] || { open: 0, waiting: 0, rate: 0 };
  const svg = el("svg", {
    viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": `Last hour (${s.length} samples): now ${last.open} open chats, ${last.waiting} waiting, ${last.rate.toFixed(1)} messages per second; highest ${Math.round(max)}.`,
  });
  svg.append(el("line", { class: "axis", x1: L, y1: y(0), x2: W - 4, y2: y(0) }), el("line", { class: "axis", x1: L, y1: T, x2: L, y2: y(0) }));
  svg.append(el("text", { x: L - 4, y: y(max) + 4, "text-anchor": "end" }, Math.round(max)), el("text", { x: L - 4, y: y(0), "text-anchor": "end" }, 0));
  svg.append(el("text", { x: L, y: H - 4 }, "−60 min"), el("text", { x: W - 4, y: H - 4, "text-anchor": "end" }, "now"));
  for (const key of ["open", "waiting", "rate"]) {
    const pts = s.map((p) => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ");
    if (pts) svg.append(el("polyline", { class: `line ${key}`, points: pts, "data-series": key }));
  }
  $("chart").replaceChildren(svg);
}

// ---- monitor, coach, barge ----

// watch opens a chat: a supervisor not in it joins silently (monitor).
async function watch(c) {
  try {
    if (st.watching !== c.chatId) {
      st.watching = c.chatId;
      st.events.clear();
      st.next = 1;
      st.chat = c;
      if (c.state !== "joined") {
        const r = await call("POST", `/chats/${encodeURIComponent(c.chatId)}/join`, { mode: "monitor" });
        apply(r);
        say($("status"), `Monitoring the chat with ${customerName(c)}.`);
      }
    }
    await refreshWatched();
    renderLive(st.live);
    $("watch").hidden = false;
    $("log").focus();
  } catch (e) {
    failed(e);
  }
}

function apply(r) {
  if (!r) return;
  if (r.chat) st.chat = r.chat;
  for (const ev of r.events || []) st.events.set(ev.index, ev);
  renderWatch();
}

// refreshWatched reads the chat's view and the transcript pages past what is shown.
async function refreshWatched() {
  const id = st.watching;
  const view = await call("GET", `/chats/${encodeURIComponent(id)}`).catch((e) => {
    if (e.status === 404) return null;
    throw e;
  });
  if (id !== st.watching) return;
  if (view) st.chat = view.chat || view;
  for (let page = 0; page < 50; page++) {
    const r = await call("GET", `/chats/${encodeURIComponent(id)}/transcript?from=${st.next}`);
    if (id !== st.watching) return;
    for (const ev of r.events || []) st.events.set(ev.index, ev);
    if (r.next && r.next > st.next) st.next = r.next;
    if (!r.more) break;
  }
  renderWatch();
}

async function setMode(mode) {
  try {
    apply(await call("POST", `/chats/${encodeURIComponent(st.watching)}/mode`, { mode }));
    say($("status"), MODES[mode]);
    $("msg").focus();
  } catch (e) {
    failed(e);
  }
}

async function leave() {
  try {
    await call("POST", `/chats/${encodeURIComponent(st.watching)}/leave`, {});
    say($("status"), "You left the chat.");
  } catch (e) {
    failed(e);
  }
  st.watching = null;
  st.chat = null;
  st.events.clear();
  $("watch").hidden = true;
  renderLive(st.live);
  if (st.mode === "polling") await tick(); // live: the next board shows it
}

async function onSend(e) {
  e.preventDefault();
  const text = $("msg").value.trim();
  if (!text || !st.watching) return;
  $("send").disabled = true;
  try {
    apply(await call("POST", `/chats/${encodeURIComponent(st.watching)}/send`, { text }));
    $("msg").value = "";
  } catch (err) {
    failed(err);
  } finally {
    $("send").disabled = false;
    $("msg").focus();
  }
}

const VIS = { INT: "coaching: agents only", VIP: "supervisors only" };

function renderEvent(ev) {
  const who = (ev.from && ev.from.nickname) || "";
  const type = ev.from && ev.from.type;
  const hidden = ev.visibility && ev.visibility !== "ALL";
  if (ev.type === "Message") {
    const kind = type === "Client" ? "customer" : type === "External" ? "bot" : "agent";
    return h("div", { class: `msg ${kind}${hidden ? " internal" : ""}`, "data-index": ev.index, "data-visibility": ev.visibility || "ALL" },
      h("div", { class: "who" }, who, hidden ? ` · ${VIS[ev.visibility] || ev.visibility}` : ""),
      h("div", { class: "text" }, ev.text || ""));
  }
  const line = { ParticipantJoined: `${who} joined`, ParticipantLeft: `${who} left`, CustomNotice: `${who}: ${ev.text || ""}` }[ev.type];
  return line ? h("div", { class: "system", "data-index": ev.index }, line + (hidden ? ` (${VIS[ev.visibility] || ev.visibility})` : "")) : null;
}

function renderWatch() {
  const c = st.chat;
  if (!c) return;
  $("watch-h").textContent = `Chat with ${customerName(c)}`;
  const mode = c.mode || "";
  $("watch-meta").textContent = `${c.queue} · agents: ${agentNames(c)} · ${c.ended ? "ended" : status(c)}${mode ? ` · you: ${mode}` : ""}`;
  $("watch-meta").dataset.currentMode = mode;
  $("mode-help").textContent = c.ended ? "The chat has ended." : MODES[mode] || "";
  const caps = new Set(c.capabilities || []);
  for (const b of document.querySelectorAll("button[data-mode]")) {
    b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
    b.disabled = !caps.has("mode");
  }
  $("leave").disabled = !caps.has("leave");
  $("msg").disabled = !caps.has("send");
  $("send").disabled = !caps.has("send");
  const log = $("log");
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
  const events = [...st.events.values()].sort((a, b) => a.index - b.index);
  log.replaceChildren(...events.map(renderEvent).filter(Boolean));
  if (atEnd) log.scrollTop = log.scrollHeight;
}

boot();
