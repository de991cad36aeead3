// DOM construction without HTML parsing. Every text that comes from the network or the user
// is put into the page with textContent or as a Text node; nothing here ever assigns
// innerHTML, outerHTML or insertAdjacentHTML, so message text cannot create elements or
// handlers. Links are the one structure made from text: only http(s) URLs become <a>
// elements, built with createElement, their href checked with the URL parser.

// el creates an element with attributes (strings; on* names refused) and children (nodes or
// strings, the latter as text).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) throw new Error(`el: refusing attribute ${k}`);
    if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
}

// URL-like runs: a scheme-less www. form or an http(s) URL, up to white space. Trailing
// punctuation that usually ends a sentence is not part of the link.
const urlRun = /\b(?:https?:\/\/|www\.)[^\s<>"]+/gi;
const trailing = /[.,;:!?'")\]}]+$/;

// safeHref returns an http(s) URL for s, or null. Anything else (javascript:, data:, ...)
// stays text.
export function safeHref(s) {
  let raw = String(s || "").trim();
  if (/^www\./i.test(raw)) raw = "https://" + raw;
  let u;
  try {
    u = new URL(raw);
  } catch {
    return null;
  }
  return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
}

// link builds an <a> that opens outside the widget, without referrer or opener.
export function link(href, text) {
  return el("a", { href, target: "_blank", rel: "noopener noreferrer nofollow ugc" }, text);
}

// linkify turns text into a fragment of Text nodes and links.
export function linkify(text) {
  const frag = document.createDocumentFragment();
  const s = String(text ?? "");
  let last = 0;
  for (const m of s.matchAll(urlRun)) {
    let run = m[0];
    const cut = run.match(trailing);
    if (cut) run = run.slice(0, run.length - cut[0].length);
    const href = safeHref(run);
    if (!href || !run) continue;
    if (m.index > last) frag.append(document.createTextNode(s.slice(last, m.index)));
    frag.append(link(href, run));
    last = m.index + run.length;
  }
  if (last < s.length) frag.append(document.createTextNode(s.slice(last)));
  return frag;
}

// formatBytes renders a byte count for people (1.5 MB).
export function formatBytes(n) {
  if (!(n >= 0)) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
