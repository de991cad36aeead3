package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/apijson"
)

// Stream and subject of the audit log.
const (
	Stream  = "CHATGATE_AUDIT"
	Subject = "audit.admin"
)

// Defaults of the stream's bounds.
const (
	DefaultMaxAge   = 90 * 24 * time.Hour
	DefaultMaxBytes = 64 << 20
)

// Limits of what a record and a page carry.
const (
	MaxSummary = 256 // bytes of a Note's summary (longer is cut)
	MaxPath    = 512 // bytes of the path kept
	PageSize   = 50  // default records per page
	MaxPage    = 200 // records per page at most
)

// Entry is one audit record. It never carries a secret (see the package doc).
type Entry struct {
	Seq      uint64          `json:"seq"`
	Time     time.Time       `json:"time"`
	Actor    adminauth.Actor `json:"actor"`
	Method   string          `json:"method"`
	Route    string          `json:"route,omitempty"` // the route pattern, e.g. /admin/accounts/{id}
	Path     string          `json:"path"`            // the path as requested, without the query
	Resource string          `json:"resource,omitempty"`
	Summary  string          `json:"summary,omitempty"`
	Status   int             `json:"status"`
}

// JetStream creates or updates the stream (*natsserver.Conn implements it).
type JetStream interface {
	Stream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error)
}

// Publisher publishes a message and waits for the store's ack (jetstream.JetStream).
type Publisher interface {
	Publish(ctx context.Context, subject string, data []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// Config configures Open.
type Config struct {
	Streams   JetStream // required
	Publisher Publisher // required
	MaxAge    time.Duration
	MaxBytes  int64
	Logger    *slog.Logger
	Now       func() time.Time
}

// Log is the audit log.
type Log struct {
	stream jetstream.Stream
	pub    Publisher
	log    *slog.Logger
	now    func() time.Time
	// recorded and failed count published and lost records.
	recorded, failed atomic.Uint64
}

var _ adminauth.Auditor = (*Log)(nil)

// Open creates or updates the stream.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Streams == nil || cfg.Publisher == nil {
		return nil, errors.New("audit: Config.Streams and Config.Publisher are required")
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s, err := cfg.Streams.Stream(ctx, jetstream.StreamConfig{
		Name:        Stream,
		Description: "chatgate audit log of admin changes (never secrets)",
		Subjects:    []string{Subject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Log{stream: s, pub: cfg.Publisher, log: cfg.Logger, now: cfg.Now}, nil
}

// Stats are the log's counters.
func (l *Log) Stats() (recorded, failed uint64) { return l.recorded.Load(), l.failed.Load() }

type noteKey struct{}

type note struct{ resource, summary string }

// Note lets a handler behind adminauth.Credentials.Require name the resource it changed
// and add a short summary to the request's audit record. Never put a secret in either.
// Outside an audited request it does nothing.
func Note(ctx context.Context, resource, summary string) {
	if n, ok := ctx.Value(noteKey{}).(*note); ok {
		n.resource, n.summary = resource, summary
	}
}

// recorder keeps the status a handler answered.
type recorder struct {
	http.ResponseWriter
	status int
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Audit implements adminauth.Auditor: a state-changing request is served by next and then
// recorded; a read is only served.
func (l *Log) Audit(w http.ResponseWriter, r *http.Request, actor adminauth.Actor, next http.Handler) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		next.ServeHTTP(w, r)
		return
	}
	n := &note{}
	r = r.WithContext(context.WithValue(r.Context(), noteKey{}, n))
	rec := &recorder{ResponseWriter: w}
	next.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	e := Entry{
		Time: l.now().UTC(), Actor: actor, Method: r.Method, Route: route(r), Path: requestPath(r),
		Resource: clip(n.resource, MaxPath), Summary: clip(n.summary, MaxSummary), Status: rec.status,
	}
	b, _ := json.Marshal(e)
	// The request may be cancelled once answered; the record is still worth keeping.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if _, err := l.pub.Publish(ctx, Subject, b); err != nil {
		l.failed.Add(1)
		l.log.Error("audit record not stored", "err", err, "method", e.Method, "path", e.Path, "status", e.Status)
		return
	}
	l.recorded.Add(1)
}

// requestPath is the path as the client sent it (before any StripPrefix), without the
// query: queries and bodies are never recorded.
func requestPath(r *http.Request) string {
	p := r.RequestURI
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if p == "" {
		p = r.URL.Path
	}
	return clip(p, MaxPath)
}

// route is the matched route pattern: the one an inner router left in Request.Pattern
// (http.ServeMux, chi and web/apiroute do), else chi's routing context's, with the prefix a
// StripPrefix in front of the router removed put back (known from the path as requested
// and the path the router saw).
func route(r *http.Request) string {
	p := r.Pattern
	if _, after, ok := strings.Cut(p, " "); ok {
		p = after // "PUT /{id}": the method is in the record already
	}
	if p == "" {
		if rc := chi.RouteContext(r.Context()); rc != nil {
			p = rc.RoutePattern()
		}
	}
	if p == "" {
		return ""
	}
	full := requestPath(r)
	if rel := r.URL.Path; rel != "" && len(rel) < len(full) && strings.HasSuffix(full, rel) {
		if prefix := full[:len(full)-len(rel)]; !strings.HasPrefix(p, prefix+"/") && p != prefix {
			p = prefix + p
		}
	}
	return clip(p, MaxPath)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Page reads up to limit records older than sequence before (0: the newest), newest first,
// and the before of the next page (0 when there is none).
func (l *Log) Page(ctx context.Context, before uint64, limit int) ([]Entry, uint64, error) {
	if limit <= 0 {
		limit = PageSize
	}
	limit = min(limit, MaxPage)
	info, err := l.stream.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: stream info: %w", err)
	}
	first, last := info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 {
		return []Entry{}, 0, nil
	}
	seq := last
	if before != 0 && before-1 < seq {
		seq = before - 1
	}
	out := []Entry{}
	for ; seq >= first && seq > 0 && len(out) < limit; seq-- {
		m, err := l.stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // aged out meanwhile
		}
		if err != nil {
			return nil, 0, fmt.Errorf("audit: read %d: %w", seq, err)
		}
		var e Entry
		if json.Unmarshal(m.Data, &e) != nil {
			continue
		}
		e.Seq = m.Sequence
		out = append(out, e)
	}
	var next uint64
	if seq >= first && seq > 0 {
		next = seq + 1
	}
	return out, next, nil
}

// Handler serves GET / (mounted at /admin/audit) behind auth:
// ?before=<seq>&limit=<n> → {"entries": [...newest first], "next": <before of the next page, 0 at the end>}.
func (l *Log) Handler(auth interface {
	Require(http.Handler) http.Handler
}) http.Handler {
	return auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			apijson.Error(w, http.StatusMethodNotAllowed, apijson.CodeMethodNotAllowed, "GET only")
			return
		}
		q := r.URL.Query()
		var before uint64
		limit := PageSize
		if s := q.Get("before"); s != "" {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "before must be a sequence number")
				return
			}
			before = n
		}
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > MaxPage {
				apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, fmt.Sprintf("limit must be 1-%d", MaxPage))
				return
			}
			limit = n
		}
		list, next, err := l.Page(r.Context(), before, limit)
		if err != nil {
			l.log.Warn("audit log not read", "err", err)
			apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "audit store unavailable, retry")
			return
		}
		apijson.Write(w, http.StatusOK, map[string]any{"entries": list, "next": next})
	}))
}

// Collectors are the log's metrics: chatgate_audit_records_total{result="stored"|"failed"}.
func (l *Log) Collectors() []prometheus.Collector {
	counter := func(result string, f func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "chatgate_audit_records_total", Help: "Audit records of admin changes, by whether the store took them.",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(f()) })
	}
	return []prometheus.Collector{counter("stored", l.recorded.Load), counter("failed", l.failed.Load)}
}
