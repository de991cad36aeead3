// The admin console: agents, supervisors and bots (the account admin API under
// /admin/accounts). The admin token is typed in once per tab and kept in sessionStorage.

import { api, stored, APIError } from "./api.js";
import { h, $, show, say } from "./dom.js";
import { bootResponses } from "./admin-responses.js";

const KEY = "chatgate:admin";
let token = null;

async function boot() {
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", logout);
  $("account-form").addEventListener("submit", onCreate);
  const s = stored.get(KEY);
  if (s && s.token) {
    token = s.token;
    if (await enter()) return;
  }
  show("login");
  $("admin-token").focus();
}

async function onLogin(e) {
  e.preventDefault();
  const t = $("admin-token").value.trim();
  if (!t) {
    say($("login-status"), "Enter the admin token.", true);
    $("admin-token").focus();
    return;
  }
  token = t;
  if (await enter()) {
    $("admin-token").value = "";
    stored.set(KEY, { token });
    $("acct-id").focus();
  } else {
    say($("login-status"), "The admin token was refused.", true);
    $("admin-token").focus();
  }
}

// enter lists the accounts with the token; a refusal leaves the console logged out.
async function enter() {
  try {
    await refresh();
  } catch {
    token = null;
    stored.set(KEY, null);
    return false;
  }
  show("main");
  bootResponses((method, path, body) => api(method, path, token, body));
  return true;
}

function logout() {
  token = null;
  stored.set(KEY, null);
  show("login");
  $("admin-token").focus();
}

async function refresh() {
  const r = await api("GET", "/admin/accounts/", token);
  const list = (r.accounts || []).sort((a, b) => a.id.localeCompare(b.id));
  $("accounts").replaceChildren(...list.map((a) => h("tr", { "data-id": a.id },
    h("td", {}, a.id),
    h("td", {}, a.displayName || ""),
    h("td", {}, a.role),
    h("td", {}, (a.queues || []).join(", ") || "all"),
    h("td", {}, String(a.capacity || "default")),
    h("td", {}, a.disabled ? "disabled" : a.hasPassword ? "password" : (a.tokens || []).length ? "API tokens" : "no login"),
    h("td", {}, h("button", { type: "button", class: "danger", "data-delete": a.id, "aria-label": `Delete ${a.id}`, onclick: (e) => onDelete(e.currentTarget, a.id) }, "Delete")))));
  $("accounts-empty").hidden = list.length > 0;
}

// onDelete asks once more on the same button (no modal dialog), then deletes: the account's
// sessions and API tokens stop working at once.
async function onDelete(btn, id) {
  if (btn.dataset.confirm !== "1") {
    btn.dataset.confirm = "1";
    btn.textContent = "Confirm delete";
    btn.setAttribute("aria-label", `Confirm: delete ${id}`);
    return;
  }
  const out = $("account-status");
  try {
    await api("DELETE", `/admin/accounts/${encodeURIComponent(id)}`, token);
    say(out, `Deleted ${id}.`);
    await refresh();
    $("acct-id").focus();
  } catch (err) {
    say(out, err.message, true);
  }
}

async function onCreate(e) {
  e.preventDefault();
  const out = $("account-status");
  const id = $("acct-id").value.trim();
  const body = {
    displayName: $("acct-name").value.trim(),
    role: $("acct-role").value,
    queues: $("acct-queues").value.split(",").map((q) => q.trim()).filter(Boolean),
    capacity: Number($("acct-capacity").value || 0),
  };
  const pw = $("acct-password").value;
  if (pw) body.password = pw;
  if (!id) {
    say(out, "Enter an id.", true);
    $("acct-id").focus();
    return;
  }
  try {
    await api("PUT", `/admin/accounts/${encodeURIComponent(id)}`, token, body);
    $("acct-password").value = "";
    say(out, `Saved ${id}.`);
    await refresh();
  } catch (err) {
    if (err instanceof APIError && err.status === 401) {
      logout();
      say($("login-status"), "The admin token was refused.", true);
      return;
    }
    say(out, err.message, true);
  }
}

boot();
