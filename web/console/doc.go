// Package console serves the browser consoles of chatgate: the agent console at /agent/, the
// supervisor wall board at /supervisor/ and the admin console at /admin/ (docs/consoles.md). They are static pages plus small ES
// modules bundled with esbuild (build.mjs; the bundles in dist/ are committed and embedded,
// `make console-check` checks them against a fresh build), so the binary needs no CDN and no
// template engine at runtime.
//
// Why static pages: every piece of data a console shows comes from an API that already
// decides who may see it — the agent API (/agent/v1, web/agentapi) for agents, the admin
// API (/admin/accounts) for admins. The pages hold no data, so "every page behind its role"
// is enforced where the data is: a page without a valid token shows only its login form.
//
// Why several small modules: agent.js keeps the agent's data (chats, offers, presence, the
// CometD session) and lays out the chat panes; chatpane.js draws one chat and sends its
// actions; responses.js is the standard responses list, shortcut and picker. The admin
// console gives each API its own section and module (admin-responses.js for
// /admin/responses), which admin.js only boots, so features land without touching each other.
//
// Why no CSRF tokens: the consoles never use cookies for authority. The agent's session
// token and the admin token are kept in sessionStorage (this tab only) and sent as an
// Authorization: Bearer header, which a cross-site form or image cannot send; the APIs do not
// accept a cookie. The pages carry a Content-Security-Policy without 'unsafe-inline' (scripts
// and styles come only from this origin), so an injected string cannot run and read the
// token; every text from the network is put into the DOM as text (dom.js), never as HTML.
package console
