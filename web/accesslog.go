package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// requestLogFormatter feeds chi's RequestLogger: one debug line per request (when lines is
// set) and, at any level, the panics chi's Recoverer catches, both through slog with the
// request id. Only the path is logged, never the query: callback-polling carries whole
// Bayeux messages (and with them chat secrets) in the query string. chi's response
// wrapper keeps http.Flusher and http.Hijacker (long-polls flush, websockets hijack) and
// unwraps for http.ResponseController.
type requestLogFormatter struct {
	log   *slog.Logger
	lines bool
}

func (f requestLogFormatter) NewLogEntry(r *http.Request) middleware.LogEntry {
	return &requestLogEntry{f: f, r: r}
}

type requestLogEntry struct {
	f requestLogFormatter
	r *http.Request
}

func (e *requestLogEntry) Write(status, bytes int, _ http.Header, elapsed time.Duration, _ any) {
	if !e.f.lines {
		return
	}
	// A hijacked connection (websocket) has no status written through the wrapper.
	hijacked := status == 0 && e.r.Header.Get("Upgrade") != ""
	switch {
	case hijacked:
		status = http.StatusSwitchingProtocols
	case status == 0:
		status = http.StatusOK
	}
	e.f.log.LogAttrs(context.Background(), slog.LevelDebug, "http request",
		slog.String("method", e.r.Method), slog.String("path", e.r.URL.Path),
		slog.Int("status", status), slog.Int("bytes", bytes),
		slog.Duration("duration", elapsed), slog.String("remote", e.r.RemoteAddr), slog.String("client", ClientAddress(e.r)),
		slog.Bool("hijacked", hijacked), slog.String("request_id", middleware.GetReqID(e.r.Context())))
}

func (e *requestLogEntry) Panic(v any, stack []byte) {
	e.f.log.LogAttrs(context.Background(), slog.LevelError, "http handler panic",
		slog.String("method", e.r.Method), slog.String("path", e.r.URL.Path),
		slog.Any("panic", v), slog.String("stack", string(stack)),
		slog.String("request_id", middleware.GetReqID(e.r.Context())))
}
