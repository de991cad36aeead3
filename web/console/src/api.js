// api calls a JSON API of this origin. The consoles authenticate with their session
// cookie (HttpOnly: no script can read it, SameSite=Strict: no other site can make the
// browser send it); every state-changing request also carries the session's CSRF token
// (X-CSRF-Token), which the server checks for every request authenticated by the cookie.
// token, when given, is sent as a bearer token instead (scripts, tests); null uses the
// cookie. Nothing is kept in sessionStorage or localStorage.
export class APIError extends Error {
  constructor(status, body) {
    super((body && (body.error || body.message)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

let csrf = null;

// setCSRF keeps the session's CSRF token (from the login or the GET session answer).
export function setCSRF(t) {
  csrf = t || null;
}

// csrfToken is the session's CSRF token (null before the session is read).
export function csrfToken() {
  return csrf;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

// extra adds request headers (e.g. Idempotency-Key).
export async function api(method, path, token, body, extra = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (csrf && !SAFE.has(method)) headers["X-CSRF-Token"] = csrf;
  // A FormData body (a file upload) goes as multipart/form-data with the browser's boundary.
  const form = typeof FormData !== "undefined" && body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : form ? body : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  // A file download (anything but JSON) is answered as a Blob.
  const type = r.headers.get("Content-Type") || "";
  if (r.ok && r.status !== 204 && type && !type.includes("json")) return r.blob();
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { error: text.slice(0, 200) };
  }
  if (!r.ok) throw new APIError(r.status, json);
  return json;
}
