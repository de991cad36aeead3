// The admin console's Push section (the push admin API under /admin/push, docs/push.md §6):
// the credentials per provider with their fingerprint, expiry and warnings; uploads of a
// .p8, a .p12 (with its password) or a service-account JSON key from a file; VAPID keys
// generated and rotated on the server; the dispatcher's counters per provider.
//
// Its own module so the other sections of the console stay apart: admin.js only calls
// bootPush once and refreshPush after a log in. The server validates every upload and says
// exactly what is wrong, naming the field ("apns.certificatePassword is wrong …"); the
// message is shown next to that field and the field gets the focus.

import { api, APIError } from "./api.js";
import { h, $, say } from "./dom.js";

const BASE = "/admin/push";
const KINDS = [
  ["webpush", "Web Push (VAPID)"],
  ["apns", "APNs (iOS)"],
  ["fcm", "FCM (Android)"],
  ["customhttp", "Custom HTTP"],
];
const STATS = ["enqueued", "sent", "resent", "retried", "dead", "acked", "queued"];

let token = () => null;
let unauthorized = () => {};
let creds = [];

// bootPush wires the section's forms. getToken returns the token api() takes (null: the
// admin console session's cookie, with its CSRF token on every change); onUnauthorized is
// called when the server answers 401 (the session ended: back to the login view).
export function bootPush({ getToken, onUnauthorized }) {
  token = getToken;
  unauthorized = onUnauthorized;
  $("vapid-form").addEventListener("submit", onGenerate);
  for (const id of ["vapid-name", "vapid-debug"]) $(id).addEventListener("input", updateGenerateButton);
  $("apns-form").addEventListener("submit", onAPNs);
  $("apns-auth").addEventListener("change", showAPNsAuth);
  $("fcm-form").addEventListener("submit", onFCM);
  $("push-stats-refresh").addEventListener("click", () => refreshStats());
  showAPNsAuth();
}

// call is api() as the rest of the console calls it; a 401 ends the console session.
async function call(method, path, body) {
  try {
    return await api(method, BASE + path, token(), body);
  } catch (err) {
    if (err instanceof APIError && err.status === 401) unauthorized();
    throw err;
  }
}

// refreshPush reloads the credentials and the statistics. It never throws. A server
// without secrets-key cannot store credentials: /status says so and the section shows the
// reason instead of the forms.
export async function refreshPush() {
  try {
    const st = await call("GET", "/status");
    $("push-off").hidden = st.enabled;
    $("push-on").hidden = !st.enabled;
    if (!st.enabled) {
      $("push-off-reason").textContent = st.reason || "";
      return;
    }
    const r = await call("GET", "/credentials");
    creds = r.credentials || [];
  } catch (err) {
    say($("push-status"), err.message, true);
    return;
  }
  renderCreds();
  updateGenerateButton();
  await refreshStats();
}

const variant = (k) => (k.debug ? "debug" : "production");
const keyOf = (c) => `${c.key.kind}.${c.key.name}.${variant(c.key)}`;
const date = (s) => (s ? new Date(s).toISOString().slice(0, 10) : "");

// renderCreds shows one list per provider, one card per credential: cards, not a table,
// because the fingerprint and the public key are long and a phone is 390 px wide.
function renderCreds() {
  const groups = KINDS.map(([kind, title]) => {
    const list = creds.filter((c) => c.key.kind === kind).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
    const headId = `push-kind-${kind}`;
    return h("section", { class: "push-kind", "aria-labelledby": headId },
      h("h4", { id: headId }, title),
      list.length === 0 ? h("p", { class: "muted" }, "None.") : h("ul", { class: "creds" }, list.map(credCard)));
  });
  $("push-creds").replaceChildren(...groups);
}

function credCard(c) {
  const k = keyOf(c);
  const expiry = [];
  if (c.notAfter) expiry.push(h("span", {}, `until ${date(c.notAfter)}`));
  else if (c.expiryNote) expiry.push(h("span", { class: "muted" }, c.expiryNote));
  if (c.warning) expiry.push(h("span", { class: "badge warn", "data-warning": "" }, c.warning));
  if (c.problem) expiry.push(h("span", { class: "error", "data-problem": "" }, c.problem));
  const facts = [
    ["Fingerprint", [h("code", { class: "fingerprint" }, c.fingerprint || "—"),
      c.fingerprintOf ? h("span", { class: "muted small" }, ` SHA-256 of the ${c.fingerprintOf}`) : null]],
    ["Expiry", h("span", { class: "expiry" }, expiry)],
    c.publicKey && ["Public key", h("code", { class: "pubkey" }, c.publicKey)],
    c.subject && ["Subject", c.subject],
    c.topic && ["Topic", c.topic],
    c.environment && ["Environment", c.environment],
    c.keyId && ["Key id", c.keyId],
    c.teamId && ["Team id", c.teamId],
    c.projectId && ["Project", c.projectId],
    c.clientEmail && ["Client email", c.clientEmail],
    c.url && ["URL", c.url],
    c.updatedAt && ["Updated", date(c.updatedAt)],
  ].filter(Boolean);
  return h("li", { class: "cred", "data-key": k },
    h("div", { class: "cred-head" },
      h("span", { class: "card-title" }, `${c.key.name} · ${variant(c.key)}`),
      h("button", { type: "button", class: "danger", "aria-label": `Delete ${k}`, onclick: (e) => onDelete(e.currentTarget, c) }, "Delete")),
    h("dl", { class: "facts" }, facts.flatMap(([t, v]) => [h("dt", {}, t), h("dd", {}, v)])));
}

// onDelete asks once more on the same button (no modal dialog).
async function onDelete(btn, c) {
  const k = keyOf(c);
  if (btn.dataset.confirm !== "1") {
    btn.dataset.confirm = "1";
    btn.textContent = "Confirm delete";
    btn.setAttribute("aria-label", `Confirm: delete ${k}`);
    return;
  }
  try {
    await call("DELETE", `/credentials/${c.key.kind}/${encodeURIComponent(c.key.name)}?debug=${c.key.debug}`);
    say($("push-status"), `Deleted ${k}.`);
    await refreshPush();
    $("vapid-name").focus();
  } catch (err) {
    say($("push-status"), err.message, true);
  }
}

// fieldErrors clears the error texts of a form; showError puts the server's message next
// to the field it names (or in the form's status line) and focuses that field.
function clearErrors(form) {
  for (const e of form.querySelectorAll(".field-error")) e.textContent = "";
  for (const e of form.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
}

function showError(form, status, fields, message) {
  const m = /\b(apns|fcm|webpush|customhttp)\.(\w+)/.exec(message);
  const id = m && fields[m[2]];
  const input = id && $(id);
  if (input && !input.closest("[hidden]")) {
    $(`${id}-error`).textContent = message;
    input.setAttribute("aria-invalid", "true");
    input.focus();
    say(status, "Not saved: see the marked field.", true);
    return;
  }
  say(status, message, true);
}

const debugQuery = (id) => ($(id).checked ? "?debug=true" : "");

function existingVAPID() {
  const name = $("vapid-name").value.trim() || "default";
  const debug = $("vapid-debug").checked;
  return creds.find((c) => c.key.kind === "webpush" && c.key.name === name && c.key.debug === debug);
}

// The generate button says what it will do: generate, or rotate an existing key (then a
// second click confirms, as the browsers subscribed with the old key stop getting pushes).
function updateGenerateButton() {
  const btn = $("vapid-generate");
  delete btn.dataset.confirm;
  btn.textContent = existingVAPID() ? "Rotate keys" : "Generate keys";
}

async function onGenerate(e) {
  e.preventDefault();
  const form = $("vapid-form");
  const status = $("vapid-status");
  const btn = $("vapid-generate");
  clearErrors(form);
  const name = $("vapid-name").value.trim() || "default";
  const old = existingVAPID();
  if (old && btn.dataset.confirm !== "1") {
    btn.dataset.confirm = "1";
    btn.textContent = "Confirm rotate";
    say(status, "Rotating replaces the key pair: browsers subscribed with the old public key get no pushes until they subscribe again. Press Confirm rotate to go on.");
    return;
  }
  try {
    const r = await call("POST", `/credentials/webpush/${encodeURIComponent(name)}/generate${debugQuery("vapid-debug")}`,
      { subject: $("vapid-subject").value.trim() });
    say(status, r.rotated ? `Rotated ${name}: new public key ${r.publicKey} (the previous one was ${r.previousFingerprint.slice(0, 16)}…).`
      : `Generated ${name}: public key ${r.publicKey}.`);
    await refreshPush();
  } catch (err) {
    updateGenerateButton();
    showError(form, status, { subject: "vapid-subject" }, err.message);
  }
}

function showAPNsAuth() {
  const cert = $("apns-auth").value === "p12";
  for (const el of document.querySelectorAll("[data-apns=p8]")) el.hidden = cert;
  for (const el of document.querySelectorAll("[data-apns=p12]")) el.hidden = !cert;
  $("apns-file-label").textContent = cert ? "Certificate (.p12 file)" : "Signing key (.p8 file)";
  $("apns-file").setAttribute("accept", cert ? ".p12,.pfx,application/x-pkcs12" : ".p8,.pem,text/plain");
}

// base64 of a file's bytes (the .p12 travels as standard base64).
async function base64Of(file) {
  const b = new Uint8Array(await file.arrayBuffer());
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

async function onAPNs(e) {
  e.preventDefault();
  const form = $("apns-form");
  const status = $("apns-status");
  clearErrors(form);
  const file = $("apns-file").files[0];
  if (!file) {
    showError(form, status, { file: "apns-file" }, "apns.file: choose the file to upload.");
    return;
  }
  const name = $("apns-name").value.trim() || "default";
  const body = { topic: $("apns-topic").value.trim(), environment: $("apns-env").value };
  if ($("apns-auth").value === "p12") {
    body.certificateP12 = await base64Of(file);
    body.certificatePassword = $("apns-password").value;
  } else {
    body.authKeyP8 = await file.text();
    body.keyId = $("apns-keyid").value.trim();
    body.teamId = $("apns-teamid").value.trim();
  }
  try {
    await call("PUT", `/credentials/apns/${encodeURIComponent(name)}${debugQuery("apns-debug")}`, body);
    $("apns-password").value = "";
    $("apns-file").value = "";
    say(status, `Saved APNs ${name}.`);
    await refreshPush();
  } catch (err) {
    showError(form, status, {
      authKeyP8: "apns-file", certificateP12: "apns-file", file: "apns-file", certificatePassword: "apns-password",
      keyId: "apns-keyid", teamId: "apns-teamid", topic: "apns-topic", environment: "apns-env",
    }, err.message);
  }
}

async function onFCM(e) {
  e.preventDefault();
  const form = $("fcm-form");
  const status = $("fcm-status");
  clearErrors(form);
  const file = $("fcm-file").files[0];
  if (!file) {
    showError(form, status, { file: "fcm-file" }, "fcm.file: choose the service-account JSON key file.");
    return;
  }
  const text = await file.text();
  let sa;
  try {
    sa = JSON.parse(text);
  } catch {
    sa = text; // the server says what is wrong with it
  }
  const name = $("fcm-name").value.trim() || "default";
  const body = { serviceAccount: sa };
  const project = $("fcm-project").value.trim();
  if (project) body.projectId = project;
  try {
    await call("PUT", `/credentials/fcm/${encodeURIComponent(name)}${debugQuery("fcm-debug")}`, body);
    $("fcm-file").value = "";
    say(status, `Saved FCM ${name}.`);
    await refreshPush();
  } catch (err) {
    showError(form, status, { serviceAccountJson: "fcm-file", file: "fcm-file", projectId: "fcm-project" }, err.message);
  }
}

const sum = (m) => Object.values(m || {}).reduce((a, b) => a + b, 0);
const breakdown = (m) => Object.entries(m || {}).sort().map(([k, v]) => `${k}: ${v}`).join(", ");

async function refreshStats() {
  let s;
  try {
    s = await call("GET", "/stats");
  } catch (err) {
    say($("push-stats-status"), err.message, true);
    return;
  }
  say($("push-stats-status"), `Counters since this node started, read ${new Date().toLocaleTimeString()}.`);
  $("push-stats").replaceChildren(...KINDS.map(([kind, title]) => {
    const k = s[kind] || {};
    return h("tr", { "data-kind": kind },
      h("th", { scope: "row" }, title),
      STATS.map((f) => h("td", { "data-stat": f }, String(k[f] || 0))),
      h("td", { "data-stat": "failed" }, String(sum(k.failed)), k.failed && sum(k.failed) ? h("span", { class: "muted small" }, ` (${breakdown(k.failed)})`) : null),
      h("td", { "data-stat": "dropped" }, String(sum(k.dropped)), k.dropped && sum(k.dropped) ? h("span", { class: "muted small" }, ` (${breakdown(k.dropped)})`) : null));
  }));
}
