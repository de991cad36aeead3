// h builds an element: h("button", {class: "x", onclick: f}, "text", child...). Strings
// become text nodes, never HTML, so names and messages from the network stay text.
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// $ finds one element of the page by id.
export const $ = (id) => document.getElementById(id);

// show makes exactly one of the page's views visible.
export function show(view) {
  for (const v of document.querySelectorAll("[data-view]")) v.hidden = v.dataset.view !== view;
}

// say writes a status line (role=status on the element makes screen readers announce it).
export function say(el, text, error = false) {
  el.textContent = text;
  el.classList.toggle("error", error);
}
