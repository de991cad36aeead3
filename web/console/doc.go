// Package console serves the browser consoles of chatgate: the agent console at /agent/, the
// supervisor wall board at /supervisor/ and the admin console at /admin/ (docs/consoles.md). They are static pages plus small ES
// modules bundled with esbuild (build.mjs; the bundles in dist/ are committed and embedded,
// `make console-check` checks them against a fresh build), so the binary needs no CDN and no
// template engine at runtime.
//
// Why every page is behind its role on the server: a page is served whole only to a session
// cookie of its role (Admission, wired by cmd/chatgate to web/agentapi and web/adminauth);
// any other request gets the page's login view, derived once from the page (loginview.go:
// every data-view but "login" removed, login.js instead of the console's bundle), so a
// browser that has not logged in gets neither the console's markup nor its code, and a
// section added to a page later is left out of the login view without anyone remembering to.
// The APIs still check the session and the role on every call.
//
// Why several small modules: agent.js keeps the agent's data (chats, offers, presence, the
// CometD session) and lays out the chat panes; chatpane.js draws one chat and sends its
// actions; responses.js is the standard responses list, shortcut and picker. The admin
// console gives each API its own section and module (admin-responses.js for
// /admin/responses, admin-services.js for /admin/options, admin-push.js for /admin/push,
// admin-audit.js for /admin/audit),
// which admin.js only boots, so features land without touching each other.
//
// Why cookies and CSRF tokens: the session lives in an HttpOnly, SameSite=Strict cookie
// (web/cookieauth), so no script on the page, injected or not, can read it. A cookie is
// ambient authority, so every state-changing call carries the session's CSRF token
// (X-CSRF-Token, src/api.js) and the server refuses it without (403). The pages carry a
// Content-Security-Policy without 'unsafe-inline' (scripts and styles come only from this
// origin); every text from the network is put into the DOM as text (dom.js), never as HTML.
package console
