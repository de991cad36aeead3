// jsonRequest calls one of chatgate's JSON APIs (admin, agent, workflow) at base + path, with
// an optional bearer token and JSON body, and answers { status, json } (json is null for an
// empty body). The Node client tests and the browser tests share it.
export async function jsonRequest(base, method, path, token, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}
