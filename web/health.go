package web

import (
	"context"
	"net/http"
)

// ReadyChecker reports whether a dependency needed to serve traffic is usable (for chatgate:
// the store answers and accepts writes, natsserver.Conn.Ready). A nil error means ready.
type ReadyChecker interface {
	Ready(ctx context.Context) error
}

// ReadyFunc adapts a function to ReadyChecker, e.g. web.ReadyFunc(conn.Ping).
type ReadyFunc func(ctx context.Context) error

// Ready calls f.
func (f ReadyFunc) Ready(ctx context.Context) error { return f(ctx) }

// serveHealthz answers 200 while the process can serve HTTP at all (liveness). It checks
// nothing else on purpose: a liveness probe that fails because the store is slow would get
// a healthy process restarted and make an outage worse.
func (s *Server) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// serveReadyz answers 200 when this node should receive traffic: not draining and the
// ReadyChecker (store reachable) passes within the ready timeout; otherwise 503 with the
// reason on one line.
func (s *Server) serveReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	err := s.checkReady(r.Context())
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (s *Server) checkReady(ctx context.Context) error {
	if s.draining.Load() {
		return errDraining
	}
	if s.ready == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.readyTO)
	defer cancel()
	return s.ready.Ready(ctx)
}
