package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// DefaultRequestTimeout is ServerOptions.RequestTimeout's default: longer than
// DefaultBodyReadTimeout, so a slow but legitimate upload is cut by the body deadline
// (with its own metric) rather than by this one.
const DefaultRequestTimeout = 60 * time.Second

// StreamPaths are the long-lived responses below the admin prefixes (the event feed's
// Server-Sent Events, and its export and summaries, which stream a range of any size, web/feed):
// they get no request timeout.
var StreamPaths = []string{"/workflow/v1/feed/events", "/workflow/v1/feed/export", "/workflow/v1/feed/summaries"}

// opsTimeout bounds /healthz, /readyz and /metrics (readiness has its own, shorter bound).
const opsTimeout = 10 * time.Second

// routeGroup is the middleware a part of the URL space gets, chosen by path prefix when a
// route is registered. Grouping by prefix keeps the adapters' registration unchanged
// (Server.Handle) while the policy per group lives here, in one table.
type routeGroup struct {
	name     string
	prefixes []string
	// timeout cancels the request's context after this long (chi middleware.Timeout; a
	// handler that gives up on the cancelled context is answered 504). 0: none.
	timeout time.Duration
	// limit is the group's per-address rate limit (nil: none).
	limit func(http.Handler) http.Handler
}

// routeGroups is the table, first match wins. /genesys/cometd has no timeout at all: a
// held /meta/connect lasts bayeux-timeout and websockets hijack the connection
// (docs/architecture.md). Paths outside every group (the widget, the demo page) get none
// either: they are static files.
func routeGroups(o ServerOptions, limits rateLimiters) []routeGroup {
	api := o.RequestTimeout
	if api <= 0 {
		api = DefaultRequestTimeout
	}
	return []routeGroup{
		{name: "bayeux", prefixes: []string{BayeuxPath}},
		// Long-lived streams (Server-Sent Events) live as long as their client: no timeout.
		{name: "stream", prefixes: StreamPaths},
		{name: "ops", prefixes: []string{HealthzPath, ReadyzPath, MetricsPath}, timeout: opsTimeout},
		{name: "gms", prefixes: []string{"/genesys/2/"}, timeout: api, limit: limits.rest},
		{name: "admin", prefixes: []string{"/admin/", "/workflow/"}, timeout: api},
	}
}

// groupFor returns the group of a ServeMux path pattern (the zero group: no middleware).
func (s *Server) groupFor(path string) routeGroup {
	for _, g := range s.groups {
		for _, p := range g.prefixes {
			if path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
				return g
			}
		}
	}
	return routeGroup{}
}

func (g routeGroup) wrap(h http.Handler) http.Handler {
	if g.timeout > 0 {
		h = middleware.Timeout(g.timeout)(h)
	}
	if g.limit != nil {
		h = g.limit(h) // outside the timeout: a refused request costs no handler
	}
	return h
}
