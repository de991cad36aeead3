// The login view of every console (the page the server serves without a session of the
// console's role): it logs in, and the server sets the HttpOnly session cookie; the page is
// then loaded again, and the server serves the console itself.

import { api, APIError } from "./api.js";
import { $, say } from "./dom.js";
import { SESSION } from "./session.js";

const consoleName = document.body.dataset.console;

function fields() {
  if (consoleName === "admin") {
    const token = $("admin-token").value.trim();
    return token ? { body: { token } } : { missing: "Enter the admin token.", focus: "admin-token" };
  }
  const id = $("login-id").value.trim();
  const password = $("login-password").value;
  if (!id || !password) return { missing: "Enter your id and password.", focus: id ? "login-password" : "login-id" };
  return { body: { id, password, console: consoleName } };
}

function refusal(e) {
  if (!(e instanceof APIError)) return e.message;
  if (e.status === 401) return consoleName === "admin" ? "The admin token was refused." : "Wrong id or password.";
  if (e.status === 403 && consoleName === "supervisor") return "This account is not a supervisor.";
  if (e.status === 403) return "This account cannot use this console.";
  if (e.status === 429) return "Too many attempts. Wait a minute and try again.";
  return e.message;
}

async function onLogin(e) {
  e.preventDefault();
  const out = $("login-status");
  const f = fields();
  if (f.missing) {
    say(out, f.missing, true);
    $(f.focus).focus();
    return;
  }
  say(out, "Logging in…");
  try {
    await api("POST", SESSION[consoleName], null, f.body);
    location.replace(location.pathname); // now with the session cookie: the console itself
  } catch (err) {
    say(out, refusal(err), true);
    $(consoleName === "admin" ? "admin-token" : "login-password").focus();
  }
}

$("login-form").addEventListener("submit", onLogin);
if (new URLSearchParams(location.search).has("ended")) say($("login-status"), "Your session ended. Please log in again.", true);
$(consoleName === "admin" ? "admin-token" : "login-id").focus();
