// The admin console: agents, supervisors and bots (the account admin API under
// /admin/accounts). The server serves this page only to an admin console session (a cookie
// the login view got for the admin token); every call rides on that cookie.

import { api, APIError } from "./api.js";
import { h, $, show, say } from "./dom.js";
import { bootServices } from "./admin-services.js";
import { bootResponses } from "./admin-responses.js";
import { bootAudit } from "./admin-audit.js";
import { SESSION, enter, logOut, ended } from "./session.js";
import { bootPush, refreshPush } from "./admin-push.js";

// token stays null: calls use the session cookie (api sends the CSRF token). Kept so
// api(method, path, token, body) reads the same in every admin module.
const token = null;

async function boot() {
  $("logout").addEventListener("click", () => logOut(SESSION.admin));
  $("account-form").addEventListener("submit", onCreate);
  await enter(SESSION.admin);
  show("main");
  bootResponses((method, path, body) => api(method, path, token, body));
  bootServices((method, path, body) => api(method, path, token, body));
  bootPush({ getToken: () => token, onUnauthorized: ended });
  bootAudit((method, path, body) => api(method, path, token, body));
  await refresh();
  await refreshPush();
  $("acct-id").focus();
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
      ended();
      return;
    }
    say(out, err.message, true);
  }
}

boot();
