// Package web is chatgate's HTTP surface: one router (Server, on go-chi/chi) that mounts the
// Bayeux server at /genesys/cometd, the GMS Chat API v2 adapter (web/gmschat) and the other
// API adapters, and serves the ops endpoints /healthz, /readyz and /metrics.
//
// Server is deliberately thin. It owns routing, readiness (including the draining state a
// graceful shutdown starts with), the private Prometheus registry, and the middleware every
// request passes: chi's request id, chi's request logger (an access-log line through slog at
// debug level, and the sink for panics at any level), chi's recoverer (a panic answers 500
// instead of dropping the connection), HEAD on GET routes, CORS (go-chi/cors) on the
// browser-facing paths with the origin policy given in ServerOptions.AllowOrigin, and the
// body read deadline.
// chi's response wrapper preserves http.Flusher and http.Hijacker, because Bayeux long-polls
// must flush and websockets must hijack.
//
// Routes are grouped by path prefix (routeGroups): the GMS REST and admin groups get a
// request timeout (chi's Timeout), the GMS REST group a per-address rate limit
// (go-chi/httprate) and chat creation a tighter one (RateLimits), the ops endpoints a short one, and /genesys/cometd none:
// a held /meta/connect lasts the Bayeux timeout (30 s by default), websockets stay open,
// and for the same reason the http.Server has no WriteTimeout. Nothing in front of
// /genesys/cometd buffers or compresses either. Slow clients are bounded instead by a read
// deadline on each request body that ends with the body (so a held connect is not cut) and
// by a cap on open connections (LimitListener, derived from the open-file limit by
// ConnectionCap) that keeps descriptors free for the store.
//
// Adapters register their routes with Server.Handle in net/http ServeMux pattern syntax
// (which Handle translates for chi), so they need not import chi; the binary's main owns
// the http.Server, the listener and the order of shutdown.
package web
