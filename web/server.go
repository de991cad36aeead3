package web

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

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
}

// Server is chatgate's HTTP surface: one router for Bayeux, the GMS API adapters, and the
// ops endpoints. It is an http.Handler; the caller owns the http.Server and its listener.
type Server struct {
	mux      *http.ServeMux
	log      *slog.Logger
	ready    ReadyChecker
	readyTO  time.Duration
	registry *prometheus.Registry
	draining atomic.Bool
	handler  http.Handler
	// accessLog is whether the access log wraps handler (debug level only: it costs a
	// wrapper and a log call per request).
	accessLog bool
}

// NewServer builds the router with the ops endpoints and, if given, the Bayeux handler.
func NewServer(o ServerOptions) *Server {
	s := &Server{
		mux:      http.NewServeMux(),
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
	s.mux.HandleFunc("GET "+HealthzPath, s.serveHealthz)
	s.mux.HandleFunc("GET "+ReadyzPath, s.serveReadyz)
	s.mux.Handle("GET "+MetricsPath, metricsHandler(s.registry, s.log))
	if o.Bayeux != nil {
		// Both patterns: the exact path (no redirect to the slash form, which POSTs would
		// not follow) and every suffix. No middleware that buffers, compresses or imposes a
		// deadline sits in front of it: long-polls are held ~30 s and websockets hijack.
		s.mux.Handle(BayeuxPath, o.Bayeux)
		s.mux.Handle(BayeuxPath+"/", o.Bayeux)
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
	s.handler = bodyDeadline(bodyTO, bodyTimeouts, s.mux)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.handler = accessLog(s.log, s.handler)
		s.accessLog = true
	}
	return s
}

// Handle registers a handler for a net/http ServeMux pattern (Go 1.22 syntax, e.g.
// "POST /genesys/2/chat/{service}"). Adapters such as web/gmschat mount their routes here.
// Like ServeMux.Handle it panics on a pattern that conflicts with one already registered.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleFunc is Handle for a function.
func (s *Server) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	s.mux.HandleFunc(pattern, h)
}

// Registry is the registry behind /metrics, for other parts to register their collectors.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// StartDraining makes /readyz answer 503 from now on: the first step of a graceful
// shutdown, so load balancers stop sending new clients here.
func (s *Server) StartDraining() { s.draining.Store(true) }

// Draining reports whether StartDraining was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// ServeHTTP routes r.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// accessLog logs one debug line per request. The wrapper keeps the writer's optional
// interfaces (Flusher for long-polls, Hijacker for websockets) and exposes Unwrap for
// http.ResponseController. Only the path is logged, never the query: callback-polling
// carries whole Bayeux messages (and with them chat secrets) in the query string.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &recordingWriter{ResponseWriter: w}
		defer func() {
			status := rw.status
			if status == 0 {
				status = http.StatusOK
			}
			log.LogAttrs(r.Context(), slog.LevelDebug, "http request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", status), slog.Int64("bytes", rw.bytes),
				slog.Duration("duration", time.Since(start)), slog.String("remote", r.RemoteAddr),
				slog.Bool("hijacked", rw.hijacked))
		}()
		next.ServeHTTP(rw, r)
	})
}

// recordingWriter records status and size for the access log.
type recordingWriter struct {
	http.ResponseWriter
	status   int
	bytes    int64
	hijacked bool
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush keeps long-poll and streaming responses flushable through the wrapper.
func (w *recordingWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack keeps websocket upgrades working through the wrapper (gorilla/websocket asserts
// http.Hijacker directly).
func (w *recordingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer (deadlines, full duplex).
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var _ interface {
	http.Flusher
	http.Hijacker
} = (*recordingWriter)(nil)

// errDraining is what /readyz reports while draining.
var errDraining = errors.New("draining")
