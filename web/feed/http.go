package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/chatgate/chatgate/web/apijson"
	"github.com/chatgate/chatgate/web/apiroute"
)

// DefaultHeartbeat is how often an idle event stream gets a comment line, so proxies keep
// it open and the client notices a dead connection.
const DefaultHeartbeat = 15 * time.Second

// Authorizer wraps the API in the admin authentication (*adminauth.Credentials).
type Authorizer interface {
	Require(next http.Handler) http.Handler
}

// APIConfig configures Handler.
type APIConfig struct {
	Feed     *Feed     // required
	Webhooks *Webhooks // nil: the webhook routes answer 404
	Auth     Authorizer
	// Heartbeat of the event stream (0: DefaultHeartbeat).
	Heartbeat time.Duration
	Logger    *slog.Logger
}

// API is the feed's HTTP API.
type API struct {
	APIConfig
	h http.Handler
	// ctx ends the open event streams (CloseStreams), which http.Server.Shutdown would
	// otherwise wait for until its deadline.
	ctx    context.Context
	cancel context.CancelFunc
	// streams counts the open event streams (a metric).
	streams atomic.Int64
}

// OpenStreams is the number of event streams open now.
func (a *API) OpenStreams() int64 { return a.streams.Load() }

// ServeHTTP serves the API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.h.ServeHTTP(w, r) }

// CloseStreams ends every open event stream and refuses new ones (a graceful shutdown:
// clients reconnect elsewhere, or later, with Last-Event-ID).
func (a *API) CloseStreams() { a.cancel() }

// Handler serves the feed API under /feed/ (mounted by cmd/chatgate below /workflow/v1).
func Handler(cfg APIConfig) (*API, error) {
	if cfg.Feed == nil || cfg.Auth == nil {
		return nil, fmt.Errorf("%w: Feed and Auth are required", ErrConfig)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{APIConfig: cfg}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	// 404 and 405 (with Allow) come from the router, in the apijson shape. The event stream
	// gets no timeout here: the server's route groups (web/routes.go, StreamPaths) leave it
	// without one, and this router adds none.
	rt := apiroute.New()
	rt.Get("/feed/events", a.events)
	rt.Get("/feed/export", a.export)
	rt.Get("/feed/summaries", a.summaries)
	rt.Get("/feed/schemas/{name}", a.schema)
	rt.Get("/feed/webhooks", a.listWebhooks)
	rt.Post("/feed/webhooks", a.createWebhook)
	rt.Get("/feed/webhooks/{id}", a.getWebhook)
	rt.Delete("/feed/webhooks/{id}", a.deleteWebhook)
	rt.Get("/feed/webhooks/{id}/dead-letters", a.deadLetters)
	rt.Post("/feed/webhooks/{id}/dead-letters/replay", a.replay)
	a.h = cfg.Auth.Require(rt)
	return a, nil
}

// events streams the feed as Server-Sent Events: "id: <seq>", "event: <kind>",
// "data: <record JSON>". A reconnect with Last-Event-ID continues after that record; without
// it the stream starts at ?from=<seq> or, by default, after the newest record.
func (a *API) events(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(a.ctx, cancel)()
	if a.ctx.Err() != nil {
		w.Header().Set("Retry-After", "1")
		apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "shutting down")
		return
	}
	start, ok := a.startSeq(w, r)
	if !ok {
		return
	}
	f := ParseFilter(r.URL.Query().Get("types"), r.URL.Query().Get("services"))
	cur, err := a.Feed.Read(ctx, start)
	if err != nil {
		a.fail(w, err)
		return
	}
	a.streams.Add(1)
	defer a.streams.Add(-1)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, ": chatgate feed\n\n")
	if rc.Flush() != nil {
		return
	}
	for {
		rec, err := cur.Next(ctx, a.Heartbeat)
		switch {
		case errors.Is(err, ErrNoRecord):
			_, err = io.WriteString(w, ": heartbeat\n\n")
		case err != nil:
			if ctx.Err() == nil {
				a.Logger.Warn("feed stream: read failed", "err", err)
			}
			return
		case !f.Match(rec):
			continue
		default:
			b, _ := json.Marshal(rec)
			_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", rec.Seq, rec.Kind, b)
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

func (a *API) startSeq(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "Last-Event-ID must be a feed sequence number")
			return 0, false
		}
		return n + 1, true
	}
	if s := r.URL.Query().Get("from"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n < 1 {
			apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "from must be a feed sequence number (1 or more)")
			return 0, false
		}
		return n, true
	}
	last, err := a.Feed.LastSeq(r.Context())
	if err != nil {
		a.fail(w, err)
		return 0, false
	}
	return last + 1, true
}

// MaxExportRecords bounds one export answer; a larger range is read in several requests
// (the answer's last line says where to continue).
const MaxExportRecords = 100_000

// export answers NDJSON: one record per line for the records stored in [from, to) (their
// "stored" time), then a trailer line
// {"v":1,"kind":"end","records":n,"truncated":bool,"nextSeq":seq}. A truncated export is
// continued with from = the last line's stored time (dropping repeated seqs).
func (a *API) export(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, to, ok := timeRange(w, q)
	if !ok {
		return
	}
	f := ParseFilter(q.Get("types"), q.Get("services"))
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	n, truncated := 0, false
	var next uint64
	err := a.Feed.Scan(r.Context(), from, to, func(rec Record) error {
		if !f.Match(rec) {
			return nil
		}
		if n == MaxExportRecords {
			truncated, next = true, rec.Seq
			return ErrStopScan
		}
		n++
		return enc.Encode(rec)
	})
	if err != nil {
		if n == 0 && !errors.Is(err, context.Canceled) {
			// Nothing written yet: the client gets a proper error, not a cut answer.
			w.Header().Del("Content-Type")
			a.fail(w, err)
		}
		return // cut short: the trailer line is missing, so the client knows
	}
	_ = enc.Encode(exportEnd{V: SchemaVersion, Kind: KindEnd, Records: n, Truncated: truncated, NextSeq: next})
}

// exportEnd is the export's trailer line.
type exportEnd struct {
	V         int    `json:"v"`
	Kind      string `json:"kind"`
	Records   int    `json:"records"`
	Truncated bool   `json:"truncated"`
	NextSeq   uint64 `json:"nextSeq"`
}

// timeRange reads from and to (RFC 3339, to after from); it answers 400 itself.
func timeRange(w http.ResponseWriter, q url.Values) (from, to time.Time, ok bool) {
	from, err1 := time.Parse(time.RFC3339Nano, q.Get("from"))
	to, err2 := time.Parse(time.RFC3339Nano, q.Get("to"))
	if err1 != nil || err2 != nil || !to.After(from) {
		apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "from and to must be RFC 3339 times with to after from")
		return from, to, false
	}
	return from, to, true
}

// summaries answers the per-chat summaries of the chats whose first record was stored in
// [from, to), computed from their records stored before until (default to), as one JSON
// object (format=json, the default) or as CSV (format=csv). docs/workflow.md "Per-chat
// summaries".
func (a *API) summaries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, to, ok := timeRange(w, q)
	if !ok {
		return
	}
	until := to
	if s := q.Get("until"); s != "" {
		u, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || u.Before(to) {
			apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "until must be an RFC 3339 time not before to")
			return
		}
		until = u
	}
	f := ParseFilter("", q.Get("services"))
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	var out summaryWriter
	switch q.Get("format") {
	case "", FormatJSON:
		h.Set("Content-Type", "application/json")
		out = &jsonSummaries{w: w, from: from, to: to, until: until}
	case FormatCSV:
		h.Set("Content-Type", "text/csv; charset=utf-8; header=present")
		h.Set("Content-Disposition", `attachment; filename="chat-summaries.csv"`)
		h.Set("Trailer", TrailerChats+", "+TrailerTruncated+", "+TrailerNextFrom)
		out = newCSVSummaries(w)
	default:
		apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "format must be json or csv")
		return
	}
	// The answer starts with the first summary (or the end), so a store that fails at once
	// gets a proper error status instead of a cut answer.
	begun := false
	begin := func() error {
		if begun {
			return nil
		}
		begun = true
		return out.begin()
	}
	z := newSummarizer(func(rec Record) bool { return f.Match(rec) && rec.Stored.Before(to) }, func(s *Summary) error {
		if err := begin(); err != nil {
			return err
		}
		return out.write(s)
	})
	err := a.Feed.Scan(r.Context(), from, until, z.Add)
	if err == nil {
		err = z.Flush()
	}
	if err == nil {
		err = begin()
	}
	if err != nil {
		switch {
		case !begun:
			h.Del("Content-Type")
			h.Del("Content-Disposition")
			h.Del("Trailer")
			a.fail(w, err)
		case r.Context().Err() == nil:
			a.Logger.Warn("feed summaries cut short", "err", err)
		}
		return // cut short: the JSON does not close, the CSV lacks its trailers
	}
	end := summaryEnd{Chats: z.emitted, Truncated: z.refused}
	if z.refused {
		end.NextFrom = &z.refusedAt
	}
	_ = out.end(end)
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request) {
	if !a.hasWebhooks(w) {
		return
	}
	eps, err := a.Webhooks.List(r.Context())
	if err != nil {
		a.fail(w, err)
		return
	}
	out := []Endpoint{}
	for _, ep := range eps {
		out = append(out, ep.public())
	}
	apijson.Write(w, http.StatusOK, map[string]any{"webhooks": out})
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request) {
	if !a.hasWebhooks(w) {
		return
	}
	var in struct {
		URL      string   `json:"url"`
		Secret   string   `json:"secret"`
		Types    []string `json:"types"`
		Services []string `json:"services"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			apijson.Error(w, http.StatusRequestEntityTooLarge, apijson.CodeTooLarge, "body over 16 KiB")
			return
		}
		apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "body must be {\"url\":..., \"secret\":..., \"types\":[...], \"services\":[...]}")
		return
	}
	ep, err := a.Webhooks.Create(r.Context(), Endpoint{URL: in.URL, Secret: in.Secret, Filter: Filter{Types: in.Types, Services: in.Services}})
	if err != nil {
		a.fail(w, err)
		return
	}
	apijson.Write(w, http.StatusCreated, ep) // the secret, this once
}

func (a *API) getWebhook(w http.ResponseWriter, r *http.Request) {
	if !a.hasWebhooks(w) {
		return
	}
	id := r.PathValue("id")
	ep, err := a.Webhooks.Get(r.Context(), id)
	if err != nil {
		a.fail(w, err)
		return
	}
	st, err := a.Webhooks.Status(r.Context(), id)
	if err != nil {
		a.fail(w, err)
		return
	}
	apijson.Write(w, http.StatusOK, struct {
		Endpoint
		Status Status `json:"status"`
	}{ep.public(), st})
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	if !a.hasWebhooks(w) {
		return
	}
	if err := a.Webhooks.Delete(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func limitParam(w http.ResponseWriter, r *http.Request) (int, bool) {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "limit must be 1 to 1000")
			return 0, false
		}
		limit = n
	}
	return limit, true
}

func (a *API) deadLetters(w http.ResponseWriter, r *http.Request) {
	if !a.hasWebhooks(w) {
		return
	}
	limit, ok := limitParam(w, r)
	if !ok {
		return
	}
	dls, err := a.Webhooks.DeadLetters(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		a.fail(w, err)
		return
	}
	apijson.Write(w, http.StatusOK, map[string]any{"deadLetters": dls})
}

func (a *API) replay(w http.ResponseWriter, r *http.Request) {
	if !a.hasWebhooks(w) {
		return
	}
	limit, ok := limitParam(w, r)
	if !ok {
		return
	}
	res, err := a.Webhooks.Replay(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		a.fail(w, err)
		return
	}
	apijson.Write(w, http.StatusOK, res)
}

func (a *API) hasWebhooks(w http.ResponseWriter) bool {
	if a.Webhooks == nil {
		apijson.Error(w, http.StatusNotFound, apijson.CodeNotFound, "webhooks are not enabled")
		return false
	}
	return true
}

func (a *API) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrEndpointNotFound):
		apijson.Error(w, http.StatusNotFound, "webhook_not_found", "no such webhook endpoint")
	case errors.Is(err, ErrInvalidEndpoint):
		apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, err.Error())
	case errors.Is(err, ErrTooManyEndpoints):
		apijson.Error(w, http.StatusConflict, "too_many_webhooks", err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "1")
		apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "the feed store did not answer in time")
	default:
		a.Logger.Error("feed API", "err", err)
		w.Header().Set("Retry-After", "1")
		apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "the feed store did not answer")
	}
}
