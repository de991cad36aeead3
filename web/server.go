package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// Paths of the HTTP surface owned by Server itself.
const (
	BayeuxPath  = "/genesys/cometd"
	HealthzPath = "/healthz"
	ReadyzPath  = "/readyz"
	MetricsPath = "/metrics"
)

// DefaultBodyReadTimeout is ServerOptions.BodyReadTimeout's default: a 2 MiB upload still
// fits at about 600 kbit/s, while a body trickled byte by byte holds its connection for
// half a minute at most.
const DefaultBodyReadTimeout = 30 * time.Second

// ServerOptions configures NewServer.
type ServerOptions struct {
	// Logger receives access-log lines (debug level only) and errors. Default: discard.
	Logger *slog.Logger
	// Bayeux serves /genesys/cometd and every path below it (the CometD client appends
	// /handshake, /connect, ... to the URL). Nil leaves those paths unrouted (404).
	Bayeux http.Handler
	// Ready decides /readyz besides draining (store reachable). Nil means ready.
	Ready ReadyChecker
	// Registry is the Prometheus registry served on /metrics; nil means a new private one
	// with the Go and process collectors (see NewRegistry).
	Registry *prometheus.Registry
	// ReadyTimeout bounds one readiness check (default 2 s).
	ReadyTimeout time.Duration
	// BodyReadTimeout bounds how long reading a request body may take, counted from the
	// start of the handler (default 30 s; see bodyDeadline for why held long-polls are not
	// affected).
	BodyReadTimeout time.Duration
	// AllowOrigin decides which browser origins get CORS headers on the browser-facing
	// paths (/genesys/cometd, /genesys/2/..., /widget/): the allowed-origins policy, which
	// the binary takes from the Bayeux server so that both agree. Nil: none (same-origin
	// pages need no CORS).
	AllowOrigin func(r *http.Request, origin string) bool
	// RateLimits are the per-address limits of the GMS REST API (zero: off).
	RateLimits RateLimits
	// RequestTimeout cancels the context of a GMS REST or admin request after this long
	// (default DefaultRequestTimeout); never applied to /genesys/cometd (see routeGroups).
	RequestTimeout time.Duration
	// TrustedProxies are the CIDR prefixes of reverse proxies in front of this server
	// (trusted-proxies). Empty: a request's client address is its TCP peer. Set: a peer inside
	// them is a proxy, and the client is the rightmost X-Forwarded-For entry that is not
	// (chi's ClientIPFromXFF), so per-address limits count real clients behind the proxy.
	// Entries must parse as netip prefixes (internal/config checks them).
	TrustedProxies []string
}

// Server is chatgate's HTTP surface: one router for Bayeux, the GMS API adapters, and the
// ops endpoints. It is an http.Handler; the caller owns the http.Server and its listener.
type Server struct {
	router   chi.Router
	log      *slog.Logger
	ready    ReadyChecker
	readyTO  time.Duration
	registry *prometheus.Registry
	draining atomic.Bool
	groups   []routeGroup
	limits   rateLimiters
	// accessLog is whether access-log lines are written (debug level only).
	accessLog bool
}

// NewServer builds the router with the ops endpoints and, if given, the Bayeux handler.
func NewServer(o ServerOptions) *Server {
	s := &Server{
		router:   chi.NewRouter(),
		log:      o.Logger,
		ready:    o.Ready,
		readyTO:  o.ReadyTimeout,
		registry: o.Registry,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.readyTO <= 0 {
		s.readyTO = 2 * time.Second
	}
	if s.registry == nil {
		s.registry = NewRegistry()
	}
	bodyTO := o.BodyReadTimeout
	if bodyTO <= 0 {
		bodyTO = DefaultBodyReadTimeout
	}
	bodyTimeouts := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: MetricsNamespace, Subsystem: "http", Name: "body_read_timeouts_total",
		Help: "Request bodies cut off because they were not sent within body-read-timeout.",
	})
	s.registry.MustRegister(bodyTimeouts)
	s.accessLog = s.log.Enabled(context.Background(), slog.LevelDebug)
	s.limits = newRateLimiters(o.RateLimits, s.registry)
	s.groups = routeGroups(o, s.limits)

	// Every request: an id (the client's X-Request-Id or a new one) for the log lines, its
	// client address (the connection's peer, for the rate limits), the
	// access log (written at debug level; always installed because it is also where the
	// recoverer reports panics), panic recovery (a 500 instead of a dropped connection),
	// HEAD served by GET routes (as net/http.ServeMux did), CORS on the browser-facing
	// paths (preflights answered before routing), and the body read deadline.
	s.router.Use(
		middleware.RequestID,
		clientIPMiddleware(o.TrustedProxies),
		middleware.RequestLogger(requestLogFormatter{log: s.log, lines: s.accessLog}),
		middleware.Recoverer,
		middleware.GetHead,
		corsMiddleware(o.AllowOrigin),
		func(next http.Handler) http.Handler { return bodyDeadline(bodyTO, bodyTimeouts, next) },
	)
	s.HandleFunc("GET "+HealthzPath, s.serveHealthz)
	s.HandleFunc("GET "+ReadyzPath, s.serveReadyz)
	s.Handle("GET "+MetricsPath, metricsHandler(s.registry, s.log))
	if o.Bayeux != nil {
		// Both patterns: the exact path (no redirect to the slash form, which POSTs would
		// not follow) and every suffix. No middleware that buffers, compresses or imposes a
		// deadline sits in front of it: long-polls are held ~30 s and websockets hijack
		// (its route group has no timeout).
		s.Handle(BayeuxPath, o.Bayeux)
		s.Handle(BayeuxPath+"/", o.Bayeux)
	}
	return s
}

// Handle registers a handler for a pattern in net/http ServeMux syntax (Go 1.22), which
// every adapter already speaks: "[METHOD ]/path", where {name} matches one segment
// (r.PathValue works), a trailing slash means the path and everything below it, and a
// trailing {$} means exactly that path. The route gets the middleware of its route group
// (routeGroups: timeouts per group, none on /genesys/cometd). Adapters such as
// web/gmschat mount their routes here.
func (s *Server) Handle(pattern string, h http.Handler) {
	method, path, hasMethod := strings.Cut(pattern, " ")
	if !hasMethod {
		method, path = "", pattern
	}
	h = s.groupFor(path).wrap(h)
	if path == chatRESTSubtree && (method == "" || method == http.MethodPost) && s.limits.create != nil {
		// Chat creation gets its own, tighter limit: the same handler on the creation
		// routes, which chi prefers to the subtree.
		for _, p := range chatCreatePatterns {
			s.router.Method(http.MethodPost, p, s.limits.create(h))
		}
	}
	path = chiPath(path)
	if method == "" {
		s.router.Handle(path, h)
		return
	}
	s.router.Method(method, path, h)
}

// chiPath translates a ServeMux path pattern to chi's: "/x/" (subtree) → "/x/*",
// "/x/{$}" → "/x/", "{rest...}" → "*".
func chiPath(p string) string {
	switch {
	case strings.HasSuffix(p, "/{$}"):
		return strings.TrimSuffix(p, "{$}")
	case strings.HasSuffix(p, "...}"):
		return p[:strings.LastIndex(p, "{")] + "*"
	case strings.HasSuffix(p, "/"):
		return p + "*"
	}
	return p
}

// HandleFunc is Handle for a function.
func (s *Server) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	s.Handle(pattern, http.HandlerFunc(h))
}

// Registry is the registry behind /metrics, for other parts to register their collectors.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// StartDraining makes /readyz answer 503 from now on: the first step of a graceful
// shutdown, so load balancers stop sending new clients here.
func (s *Server) StartDraining() { s.draining.Store(true) }

// Draining reports whether StartDraining was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// ServeHTTP routes r.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// errDraining is what /readyz reports while draining.
var errDraining = errors.New("draining")
