package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/web/apijson"
)

// Bucket is the KV bucket of Idempotency-Key records (cmd/chatgate opens it with the TTL
// workflow-idempotency-ttl).
const Bucket = "CHATGATE_IDEMPOTENCY"

// HeaderKey names the header that makes an operation act once; HeaderReplayed marks an
// answer repeated from the first call; MaxKey bounds the header.
const (
	HeaderKey      = "Idempotency-Key"
	HeaderReplayed = "Idempotent-Replayed"
	MaxKey         = 255
)

// DefaultPendingTimeout is how long a key whose first call has not finished (or whose
// process died mid-call) blocks retries with 409 before a retry may act again.
const DefaultPendingTimeout = time.Minute

// Config configures Keys.
type Config struct {
	KV jetstream.KeyValue // required
	// Namespace separates the APIs sharing the bucket ("agent"; the workflow API's is empty,
	// see recordKey).
	Namespace string
	// Scope names the caller a key belongs to (nil: one scope for all).
	Scope          func(*http.Request) string
	PendingTimeout time.Duration // default DefaultPendingTimeout
	Now            func() time.Time
	Logger         *slog.Logger
}

// Keys wraps handlers so that they act once per Idempotency-Key.
type Keys struct {
	cfg Config
}

// New builds Keys.
func New(cfg Config) *Keys {
	if cfg.PendingTimeout <= 0 {
		cfg.PendingTimeout = DefaultPendingTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Keys{cfg: cfg}
}

// record is what the bucket holds per key: the request's hash and, once done, the answer to
// repeat.
type record struct {
	Request string    `json:"request"`
	Started time.Time `json:"started"`
	Done    bool      `json:"done"`
	Status  int       `json:"status,omitempty"`
	Body    []byte    `json:"body,omitempty"`
}

// recorder keeps an answer to store it before sending it.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// Wrap makes next act once per Idempotency-Key (per namespace, scope, method and path): the
// first call runs and its answer (2xx and 4xx; not 5xx, which the client should retry) is
// stored; a later call with the same key and the same body gets that answer again with
// Idempotent-Replayed: true and acts no more. The same key with another body is 422
// idempotency_key_reused; while the first call runs, 409 idempotency_in_progress. Without
// the header the call acts each time. The request body must already be bounded
// (http.MaxBytesReader).
func (k *Keys) Wrap(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(HeaderKey)
		if key == "" {
			next(w, r)
			return
		}
		if len(key) > MaxKey {
			apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "Idempotency-Key over 255 bytes")
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				apijson.Error(w, http.StatusRequestEntityTooLarge, apijson.CodeTooLarge, "request body too large")
				return
			}
			apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "request body could not be read")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		scope := ""
		if k.cfg.Scope != nil {
			scope = k.cfg.Scope(r)
		}
		kvKey := recordKey(k.cfg.Namespace, scope, r.Method, r.URL.Path, key)
		reqSum := sha256.Sum256(body)
		reqHash := hex.EncodeToString(reqSum[:])
		ctx := r.Context()
		kv := k.cfg.KV
		now := k.cfg.Now()
		pending, _ := json.Marshal(record{Request: reqHash, Started: now})
		rev, err := kv.Create(ctx, kvKey, pending)
		if errors.Is(err, jetstream.ErrKeyExists) {
			e, gerr := kv.Get(ctx, kvKey)
			if gerr != nil {
				k.unavailable(w, r, gerr)
				return
			}
			var rec record
			if json.Unmarshal(e.Value(), &rec) != nil {
				k.unavailable(w, r, errors.New("idempotency record unreadable"))
				return
			}
			switch {
			case rec.Request != reqHash:
				apijson.Error(w, http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used with another request body")
				return
			case rec.Done:
				w.Header().Set(HeaderReplayed, "true")
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(rec.Status)
				_, _ = w.Write(rec.Body)
				return
			case now.Sub(rec.Started) < k.cfg.PendingTimeout:
				w.Header().Set("Retry-After", "1")
				apijson.Error(w, http.StatusConflict, "idempotency_in_progress", "a call with this Idempotency-Key is still running; retry")
				return
			}
			// The first call never finished (its process died): this one takes over.
			if rev, err = kv.Update(ctx, kvKey, pending, e.Revision()); err != nil {
				w.Header().Set("Retry-After", "1")
				apijson.Error(w, http.StatusConflict, "idempotency_in_progress", "a call with this Idempotency-Key is still running; retry")
				return
			}
		} else if err != nil {
			k.unavailable(w, r, err)
			return
		}
		rec := &recorder{header: w.Header()}
		next(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		// Store before answering, with a context of its own: the action happened, and a
		// client that gave up will retry.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rec.status >= 500 {
			_ = kv.Delete(sctx, kvKey, jetstream.LastRevision(rev))
		} else {
			done, _ := json.Marshal(record{Request: reqHash, Started: now, Done: true, Status: rec.status, Body: rec.body.Bytes()})
			if _, err := kv.Update(sctx, kvKey, done, rev); err != nil {
				k.cfg.Logger.Warn("idempotency record not stored; a retry within the pending timeout gets 409, later it acts again", "namespace", k.cfg.Namespace, "err", err)
			}
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	}
}

// recordKey is the bucket key of an Idempotency-Key: a hash, so any header value is a valid
// KV key and keys of different APIs, callers and operations never meet.
// The workflow API's keys (no namespace, no scope) hash as they did before this package, so
// its records stored by an older version still answer.
func recordKey(namespace, scope, method, path, key string) string {
	prefix := ""
	if namespace != "" || scope != "" {
		prefix = namespace + "\n" + scope + "\n"
	}
	sum := sha256.Sum256([]byte(prefix + method + " " + path + "\n" + key))
	return hex.EncodeToString(sum[:])
}

func (k *Keys) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	k.cfg.Logger.Warn("idempotency store not available", "namespace", k.cfg.Namespace, "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "1")
	apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "the idempotency store did not answer; retry")
}
