// api calls a JSON API with a bearer token. The token lives in sessionStorage, never in a
// cookie, so a page of another site cannot make the browser send it (no CSRF surface).
export class APIError extends Error {
  constructor(status, body) {
    super((body && (body.error || body.message)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(method, path, token, body) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  // A FormData body (a file upload) goes as multipart/form-data with the browser's boundary.
  const form = typeof FormData !== "undefined" && body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : form ? body : JSON.stringify(body),
    credentials: "omit",
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

// stored keeps one JSON value per tab in sessionStorage.
export const stored = {
  get(key) {
    try {
      return JSON.parse(sessionStorage.getItem(key) || "null");
    } catch {
      return null;
    }
  },
  set(key, v) {
    if (v === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(v));
  },
};
