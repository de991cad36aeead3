// The composer's emoji picker: a button that opens a popup grid of common emoji and inserts
// the chosen one at the caret of the message box. Plain Unicode characters (no images, no
// font or CDN): the customer's system font draws them, and the message carries the
// characters themselves.
//
// Keyboard (WAI-ARIA grid pattern, one tab stop with a roving tabindex): the button opens
// the grid and moves the focus to the first cell; arrow keys move, Home/End go to the ends
// of the row, Ctrl+Home/End to the first and last cell; Enter or Space inserts and returns
// to the message box; Escape closes and returns to the button; Tab leaves and closes.

import { el } from "./dom.js";

export const COLS = 8;

// 40 emoji, 5 rows of 8: faces, gestures, hearts, things a support chat needs.
export const EMOJI = [
  "😀", "😃", "😊", "🙂", "😉", "😍", "😂", "🤣",
  "😅", "😇", "🤔", "😐", "🙁", "😢", "😮", "😡",
  "👍", "👎", "👏", "🙏", "👋", "👌", "🤝", "💪",
  "❤️", "💔", "🎉", "✨", "🔥", "⭐", "✅", "❌",
  "☕", "📦", "📧", "📞", "💡", "⏰", "🚚", "🎁",
];

let seq = 0;

export class EmojiPicker {
  // opts: {button, input, label, onInsert(text)}: button toggles the grid, input is the
  // textarea the emoji go into, label the grid's accessible name, onInsert runs after an
  // insertion (the typing indicator follows the input).
  constructor({ button, input, label, onInsert }) {
    this.button = button;
    this.input = input;
    this.onInsert = onInsert;
    this.at = 0; // the cell with tabindex 0
    const id = `cg-emoji-${++seq}`;
    this.cells = EMOJI.map((e, i) => el("span", { role: "gridcell", tabindex: i === 0 ? "0" : "-1", "data-i": String(i) }, e));
    const rows = [];
    for (let r = 0; r < EMOJI.length; r += COLS) rows.push(el("div", { role: "row" }, this.cells.slice(r, r + COLS)));
    this.grid = el("div", { class: "emoji-grid", role: "grid", id, "aria-label": label, hidden: true }, rows);
    button.setAttribute("aria-haspopup", "grid");
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", id);

    button.addEventListener("click", () => (this.isOpen ? this.close(true) : this.open()));
    this.grid.addEventListener("keydown", (e) => this.#key(e));
    this.grid.addEventListener("click", (e) => {
      const c = e.target.closest("[role=gridcell]");
      if (c) this.#choose(Number(c.dataset.i));
    });
    // A press on the grid's padding must not take the focus away (which would close it).
    this.grid.addEventListener("mousedown", (e) => {
      if (!e.target.closest("[role=gridcell]")) e.preventDefault();
    });
    // Focus leaving grid and button (Tab, a click elsewhere) closes the popup.
    this.grid.addEventListener("focusout", (e) => {
      const to = e.relatedTarget;
      if (!to || (to !== button && !this.grid.contains(to))) this.close(false);
    });
  }

  get isOpen() {
    return !this.grid.hidden;
  }

  open() {
    // The caret is remembered now: the textarea keeps its selection while the grid has the focus.
    this.sel = [this.input.selectionStart, this.input.selectionEnd];
    this.grid.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.#move(0);
  }

  // close hides the grid; focusButton returns the focus to the button (Escape, toggle).
  close(focusButton) {
    if (!this.isOpen) return;
    this.grid.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    if (focusButton) this.button.focus();
  }

  #move(i) {
    this.cells[this.at].setAttribute("tabindex", "-1");
    this.at = Math.max(0, Math.min(EMOJI.length - 1, i));
    const c = this.cells[this.at];
    c.setAttribute("tabindex", "0");
    c.focus();
  }

  #key(e) {
    const i = this.at;
    const rowStart = i - (i % COLS);
    let to = null;
    switch (e.key) {
      case "ArrowRight": to = i + 1; break;
      case "ArrowLeft": to = i - 1; break;
      case "ArrowDown": to = i + COLS < EMOJI.length ? i + COLS : i; break;
      case "ArrowUp": to = i - COLS >= 0 ? i - COLS : i; break;
      case "Home": to = e.ctrlKey ? 0 : rowStart; break;
      case "End": to = e.ctrlKey ? EMOJI.length - 1 : Math.min(rowStart + COLS, EMOJI.length) - 1; break;
      case "Enter":
      case " ":
        e.preventDefault();
        this.#choose(i);
        return;
      case "Escape":
        e.preventDefault();
        e.stopPropagation(); // the panel's Escape would close the whole widget
        this.close(true);
        return;
      default:
        return;
    }
    e.preventDefault();
    this.#move(to);
  }

  // choose inserts emoji i at the remembered caret (replacing a selection), within the
  // textarea's maxlength, and puts the caret after it.
  #choose(i) {
    this.at = i;
    const input = this.input;
    const text = EMOJI[i];
    const [start, end] = this.sel || [input.value.length, input.value.length];
    const max = input.maxLength > 0 ? input.maxLength : Infinity;
    this.close(false);
    input.focus();
    if (input.value.length - (end - start) + text.length <= max) {
      input.setRangeText(text, start, end, "end");
      this.onInsert(text);
    } else input.setSelectionRange(start, end);
  }
}
