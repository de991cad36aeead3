// Package web is chatgate's HTTP surface: one router (Server) that mounts the Bayeux server
// at /genesys/cometd, the GMS Chat API v2 adapter (web/gmschat) and the other API adapters,
// and serves the ops endpoints /healthz, /readyz and /metrics.
//
// Server is deliberately thin. It owns routing, readiness (including the draining state a
// graceful shutdown starts with), the private Prometheus registry, and an access log that is
// only installed at debug level and that preserves http.Flusher and http.Hijacker, because
// Bayeux long-polls must flush and websockets must hijack. Nothing in front of
// /genesys/cometd imposes a deadline, buffers or compresses: a held /meta/connect lasts the
// Bayeux timeout (30 s by default) and the http.Server must have no WriteTimeout for the same
// reason. Slow clients are bounded instead by a read deadline on each request body that
// ends with the body (so a held connect is not cut) and by a cap on open connections
// (LimitListener, derived from the open-file limit by ConnectionCap) that keeps
// descriptors free for the store. Adapters register their routes with Server.Handle; the binary's main owns the
// http.Server, the listener and the order of shutdown.
package web
