// The console session glue shared by the agent console, the supervisor board and the admin
// console. The server serves a console page whole only to a session of its role (else its
// login view, login.js), so a console's bundle starts with a session: it reads the CSRF
// token, and when the session ends (401 on any call, or log out) it loads the page again,
// which is then the login view.

import { api, setCSRF, APIError } from "./api.js";
import { say } from "./dom.js";

// SESSION is each console's session endpoint.
export const SESSION = {
  agent: "/agent/v1/session",
  supervisor: "/agent/v1/session",
  admin: "/admin/session",
};

// ended goes back to the login view, which says why.
export function ended() {
  location.replace(`${location.pathname}?ended=1`);
}

// enter reads the session (its CSRF token, the account for staff consoles); a session that
// ended meanwhile goes back to the login view.
export async function enter(path) {
  try {
    const s = await api("GET", path, null);
    setCSRF(s.csrfToken);
    return s;
  } catch (e) {
    if (e instanceof APIError && e.status === 401) ended();
    throw e;
  }
}

// logOut revokes the session (the server clears the cookie) and shows the login view.
export async function logOut(path) {
  await api("DELETE", path, null).catch(() => {});
  location.replace(location.pathname);
}

// failer reports a failed call on el; a 401 means the session is gone: log in again.
export function failer(el) {
  return (e) => {
    if (e instanceof APIError && e.status === 401) {
      ended();
      return;
    }
    say(typeof el === "function" ? el() : el, e.message, true);
  };
}
