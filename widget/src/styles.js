// The widget's style sheet, scoped to its shadow root. Theming: every colour, the font, the
// radius and the size are CSS custom properties on the host element, which a site overrides
// from its own CSS (custom properties inherit into the shadow tree; nothing else does,
// thanks to `all: initial`). The default palette meets WCAG AA contrast (see docs/widget.md).

export const css = `
:host {
  all: initial;
  --cg-primary: #0b5cad;
  --cg-on-primary: #ffffff;
  --cg-bg: #ffffff;
  --cg-text: #1b1b1f;
  --cg-muted: #5c5f66;
  --cg-border: #c9ced6;
  --cg-agent-bg: #eef1f5;
  --cg-bot-bg: #e6f2e9;
  --cg-danger: #b3261e;
  --cg-banner-bg: #fff4ce;
  --cg-banner-text: #3d2c00;
  --cg-focus: #1b1b1f;
  --cg-radius: 12px;
  --cg-font: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  --cg-width: 370px;
  --cg-height: 580px;
  --cg-offset: 20px;
  --cg-z: 2147483000;
}
* { box-sizing: border-box; }
.root { font: 15px/1.4 var(--cg-font); color: var(--cg-text); }
button, input, textarea { font: inherit; color: inherit; }
:focus-visible { outline: 3px solid var(--cg-focus); outline-offset: 2px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; }
.launcher {
  position: fixed; right: var(--cg-offset); bottom: var(--cg-offset); z-index: var(--cg-z);
  width: 60px; height: 60px; border-radius: 50%; border: 0; cursor: pointer;
  background: var(--cg-primary); color: var(--cg-on-primary);
  box-shadow: 0 4px 14px rgba(0,0,0,.25); display: grid; place-items: center;
}
.launcher svg { width: 28px; height: 28px; fill: currentColor; }
.badge {
  position: absolute; top: -4px; right: -4px; min-width: 22px; height: 22px; padding: 0 6px;
  border-radius: 11px; background: var(--cg-danger); color: #fff; font-size: 13px; font-weight: 700;
  line-height: 22px; text-align: center;
}
.badge[hidden] { display: none; }
.panel {
  position: fixed; right: var(--cg-offset); bottom: calc(var(--cg-offset) + 72px); z-index: var(--cg-z);
  width: var(--cg-width); height: var(--cg-height); max-height: calc(100vh - var(--cg-offset) - 92px);
  background: var(--cg-bg); border-radius: var(--cg-radius); box-shadow: 0 8px 30px rgba(0,0,0,.25);
  display: flex; flex-direction: column; overflow: hidden; border: 1px solid var(--cg-border);
}
.panel[hidden] { display: none; }
header { display: flex; align-items: center; gap: 4px; padding: 10px 8px 10px 16px; background: var(--cg-primary); color: var(--cg-on-primary); }
header h2 { flex: 1; margin: 0; font-size: 17px; font-weight: 600; }
.hbtn { background: transparent; border: 0; color: inherit; cursor: pointer; padding: 6px 8px; border-radius: 6px; font-size: 14px; }
.hbtn:hover { background: rgba(255,255,255,.15); }
.hbtn.push[aria-pressed="true"] { background: rgba(255,255,255,.25); }
header :focus-visible { outline-color: var(--cg-on-primary); }
.hbtn svg { width: 18px; height: 18px; fill: currentColor; vertical-align: middle; }
.banner { background: var(--cg-banner-bg); color: var(--cg-banner-text); padding: 8px 16px; font-size: 14px; }
.banner[hidden] { display: none; }
.body { flex: 1; overflow-y: auto; padding: 12px 16px; }
form.prechat p { margin: 0 0 12px; }
.field { margin-bottom: 12px; display: flex; flex-direction: column; gap: 4px; }
.field label { font-weight: 600; font-size: 14px; }
.field input, .field textarea { border: 1px solid #767b85; border-radius: 8px; padding: 8px 10px; background: #fff; }
.field [aria-invalid="true"] { border-color: var(--cg-danger); border-width: 2px; }
.ferr { color: var(--cg-danger); font-size: 13px; }
.ferr:empty { display: none; }
.primary { background: var(--cg-primary); color: var(--cg-on-primary); border: 0; border-radius: 8px; padding: 10px 16px; cursor: pointer; font-weight: 600; }
.primary[disabled] { opacity: .6; cursor: default; }
.secondary { background: transparent; color: var(--cg-primary); border: 2px solid var(--cg-primary); border-radius: 8px; padding: 8px 14px; cursor: pointer; font-weight: 600; }
.log { display: flex; flex-direction: column; gap: 8px; }
.item { max-width: 85%; align-self: flex-start; }
.item .who { font-size: 13px; font-weight: 600; color: var(--cg-muted); margin: 0 4px 2px; }
.bubble { padding: 8px 12px; border-radius: 14px; background: var(--cg-agent-bg); white-space: pre-wrap; overflow-wrap: anywhere; }
.bubble a { color: inherit; text-decoration: underline; }
.meta { font-size: 12px; color: var(--cg-muted); margin: 2px 4px 0; }
.item.own { align-self: flex-end; text-align: right; }
.item.own .bubble { background: var(--cg-primary); color: var(--cg-on-primary); text-align: left; border-bottom-right-radius: 4px; }
.item.agent .bubble { border-bottom-left-radius: 4px; }
.item.bot .bubble { background: var(--cg-bot-bg); border-bottom-left-radius: 4px; }
.item.system { align-self: center; max-width: 95%; text-align: center; font-size: 13px; color: var(--cg-muted); }
.item.system.alert { color: var(--cg-danger); }
.item.failed .meta { color: var(--cg-danger); }
.linkbtn { background: none; border: 0; padding: 0 2px; color: var(--cg-primary); text-decoration: underline; cursor: pointer; font-size: inherit; }
.item.own .bubble .linkbtn { color: var(--cg-on-primary); }
.item.failed .linkbtn { color: var(--cg-danger); font-weight: 600; }
.typing { padding: 0 16px 6px; font-size: 13px; color: var(--cg-muted); min-height: 1.4em; }
.composer { display: flex; gap: 6px; align-items: flex-end; padding: 8px; border-top: 1px solid var(--cg-border); }
.composer textarea { flex: 1; resize: none; border: 1px solid #767b85; border-radius: 8px; padding: 8px 10px; max-height: 120px; min-height: 40px; }
.ibtn { border: 0; background: transparent; color: var(--cg-primary); border-radius: 8px; width: 40px; height: 40px; cursor: pointer; display: grid; place-items: center; }
.ibtn svg { width: 22px; height: 22px; fill: currentColor; }
.ibtn.send { background: var(--cg-primary); color: var(--cg-on-primary); }
.ibtn[aria-expanded="true"] { background: var(--cg-agent-bg); }
.composer { position: relative; }
.emoji-grid {
  position: absolute; left: 8px; bottom: calc(100% + 4px); z-index: 1; max-width: calc(100% - 16px);
  display: grid; gap: 2px; padding: 8px; background: var(--cg-bg); color: var(--cg-text);
  border: 1px solid var(--cg-border); border-radius: var(--cg-radius); box-shadow: 0 4px 14px rgba(0,0,0,.2);
}
.emoji-grid [role=row] { display: flex; gap: 2px; }
.emoji-grid [role=gridcell] {
  width: 38px; height: 38px; display: grid; place-items: center; border-radius: 8px; cursor: pointer;
  font: 22px/1 "Noto Color Emoji", "Apple Color Emoji", "Segoe UI Emoji", var(--cg-font); user-select: none;
}
.emoji-grid [role=gridcell]:hover, .emoji-grid [role=gridcell]:focus { background: var(--cg-agent-bg); }
.ended, .confirm { padding: 12px 16px; border-top: 1px solid var(--cg-border); display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.ended p, .confirm p { margin: 0; width: 100%; font-weight: 600; }
.progress { width: 100%; }
[hidden] { display: none !important; }
@media (max-width: 480px) {
  .panel { inset: 0; width: 100%; height: 100%; max-height: none; border-radius: 0; border: 0; }
  .root.open .launcher { display: none; }
}
@media (prefers-reduced-motion: no-preference) {
  .panel { transition: opacity .15s ease; }
}
`;
