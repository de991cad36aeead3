// Package widget serves chatgate's embeddable customer chat widget: one JavaScript file,
// /widget/chatgate.js, that a site embeds with a single script tag, and an optional demo page
// at / that embeds it, so that a new user can chat right after `go run ./cmd/chatgate`.
//
// Why the bundle is committed and embedded: the binary must build and run with Go alone (no
// Node at build or run time), and what the binary serves must be exactly what was reviewed.
// The source lives in widget/src (ES modules plus the official cometd npm client); `make
// widget` rebuilds dist/chatgate.js with esbuild, and `make widget-check` (part of `make
// test`) rebuilds into a temporary file and fails if it differs from the committed one, so the
// source and the bundle cannot drift apart. The build is deterministic for that reason.
//
// Serving: the bundle and its gzip form are prepared once at start (the file is small and
// static, so compressing per request would only cost CPU); every response carries a strong
// ETag over the content, so a short max-age plus revalidation keeps sites current after an
// upgrade while browsers mostly get 304s. The demo page sends a strict Content-Security-Policy
// as defence in depth for the widget's own rule that message text is never parsed as HTML.
//
// The Web Push service worker, /widget/sw.js, is served as written from widget/src/sw.js,
// not bundled: a service worker is a script of its own, loaded by the browser, and it must
// come from the page's origin, so sites on another origin host a copy (docs/widget.md, "Web
// Push").
//
// The package knows nothing of chats or Bayeux: the widget talks to the GMS Chat API v2
// (CometD flavour) like any other client. See docs/widget.md.
package widget
