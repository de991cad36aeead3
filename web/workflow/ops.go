package workflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/chatcore"
)

// Operations are the workflow's actions on a chat; *chatcore.Core implements them.
type Operations interface {
	SystemNotice(ctx context.Context, chatID, text string, userData map[string]string) (chatcore.Result, error)
	Annotate(ctx context.Context, chatID string, data map[string]string) (chatcore.Result, error)
	EndChat(ctx context.Context, chatID, byUserID string) (chatcore.Result, error)
	Join(ctx context.Context, chatID string, j chatcore.JoinRequest) (chatcore.Participant, chatcore.Result, error)
}

// IdempotencyBucket is the KV bucket of Idempotency-Key records (cmd/chatgate opens it with
// the TTL workflow-idempotency-ttl, so keys expire by themselves).
const IdempotencyBucket = "CHATGATE_IDEMPOTENCY"

// HeaderIdempotencyKey names the header that makes a workflow operation act once;
// HeaderReplayed marks an answer repeated from the first call.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderReplayed       = "Idempotent-Replayed"
	maxIdempotencyKey    = 255
)

// DefaultPendingTimeout is how long a key whose first call has not finished (or whose
// process died mid-call) blocks retries with 409 before a retry may act again.
const DefaultPendingTimeout = time.Minute

// idemRecord is what the bucket holds per key: the request's hash and, once done, the
// answer to repeat.
type idemRecord struct {
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

// idempotent makes next act once per Idempotency-Key (per method and path): the first call
// runs and its answer (2xx and 4xx; not 5xx, which the client should retry) is stored; a
// later call with the same key and the same body gets that answer again with
// Idempotent-Replayed: true and acts no more. The same key with another body is 422
// idempotency_key_reused; while the first call runs, 409 idempotency_in_progress. Without
// the header the call acts each time.
func (h *handler) idempotent(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(HeaderIdempotencyKey)
		if key == "" || h.cfg.Idempotency == nil {
			next(w, r)
			return
		}
		if len(key) > maxIdempotencyKey {
			writeError(w, http.StatusBadRequest, "bad_request", "Idempotency-Key over 255 bytes")
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request body too large")
				return
			}
			writeError(w, http.StatusBadRequest, "bad_request", "request body could not be read")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		kvKey := idemKey(r.Method, r.URL.Path, key)
		reqSum := sha256.Sum256(body)
		reqHash := hex.EncodeToString(reqSum[:])
		ctx := r.Context()
		kv := h.cfg.Idempotency
		now := h.cfg.Now()
		pending, _ := json.Marshal(idemRecord{Request: reqHash, Started: now})
		rev, err := kv.Create(ctx, kvKey, pending)
		if errors.Is(err, jetstream.ErrKeyExists) {
			e, gerr := kv.Get(ctx, kvKey)
			if gerr != nil {
				h.idemUnavailable(w, r, gerr)
				return
			}
			var rec idemRecord
			if json.Unmarshal(e.Value(), &rec) != nil {
				h.idemUnavailable(w, r, errors.New("idempotency record unreadable"))
				return
			}
			switch {
			case rec.Request != reqHash:
				writeError(w, http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used with another request body")
				return
			case rec.Done:
				w.Header().Set(HeaderReplayed, "true")
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(rec.Status)
				_, _ = w.Write(rec.Body)
				return
			case now.Sub(rec.Started) < h.cfg.PendingTimeout:
				w.Header().Set("Retry-After", "1")
				writeError(w, http.StatusConflict, "idempotency_in_progress", "a call with this Idempotency-Key is still running; retry")
				return
			}
			// The first call never finished (its process died): this one takes over.
			if rev, err = kv.Update(ctx, kvKey, pending, e.Revision()); err != nil {
				w.Header().Set("Retry-After", "1")
				writeError(w, http.StatusConflict, "idempotency_in_progress", "a call with this Idempotency-Key is still running; retry")
				return
			}
		} else if err != nil {
			h.idemUnavailable(w, r, err)
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
			done, _ := json.Marshal(idemRecord{Request: reqHash, Started: now, Done: true, Status: rec.status, Body: rec.body.Bytes()})
			if _, err := kv.Update(sctx, kvKey, done, rev); err != nil {
				h.log.Warn("workflow: idempotency record not stored; a retry within the pending timeout gets 409, later it acts again", "err", err)
			}
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	}
}

// idemKey is the bucket key of an Idempotency-Key: a hash, so any header value is a valid
// KV key and keys of different operations never meet.
func idemKey(method, path, key string) string {
	sum := sha256.Sum256([]byte(method + " " + path + "\n" + key))
	return hex.EncodeToString(sum[:])
}

func (h *handler) idemUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Warn("workflow: idempotency store not available", "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, "unavailable", "the idempotency store did not answer; retry")
}

// readJSON decodes a bounded JSON object body into v (unknown fields refused).
func readJSON(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request body too large")
			return false
		}
		writeError(w, http.StatusBadRequest, "bad_request", "the body must be "+shape)
		return false
	}
	return true
}

// sendMessage adds a system message (a Notice event from the system, GMS "system" party)
// to the chat's transcript.
func (h *handler) sendMessage(w http.ResponseWriter, r *http.Request) {
	id, ok := chatID(w, r)
	if !ok {
		return
	}
	var in struct {
		Text     string            `json:"text"`
		UserData map[string]string `json:"userData"`
	}
	if !readJSON(w, r, &in, `{"text": "...", "userData": {...}}`) {
		return
	}
	res, err := h.cfg.Ops.SystemNotice(r.Context(), id, in.Text, in.UserData)
	h.answerOp(w, r, res, err)
}

// setProperties merges keys into the chat's userData (the interaction's attached data).
func (h *handler) setProperties(w http.ResponseWriter, r *http.Request) {
	id, ok := chatID(w, r)
	if !ok {
		return
	}
	var in struct {
		UserData map[string]string `json:"userData"`
	}
	if !readJSON(w, r, &in, `{"userData": {"key": "value", ...}}`) {
		return
	}
	res, err := h.cfg.Ops.Annotate(r.Context(), id, in.UserData)
	h.answerOp(w, r, res, err)
}

// end ends the chat (stop interaction): every participant is removed by the server.
func (h *handler) end(w http.ResponseWriter, r *http.Request) {
	id, ok := chatID(w, r)
	if !ok {
		return
	}
	if !emptyObject(w, r) {
		return
	}
	res, err := h.cfg.Ops.EndChat(r.Context(), id, "")
	h.answerOp(w, r, res, err)
}

func (h *handler) answerOp(w http.ResponseWriter, r *http.Request, res chatcore.Result, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, Info(res.Chat))
	case errors.Is(err, chatcore.ErrChatEnded):
		writeError(w, http.StatusConflict, "chat_ended", "the chat has ended")
	case errors.Is(err, chatcore.ErrInvalid):
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
	case errors.Is(err, chatcore.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
	case errors.Is(err, chatcore.ErrTranscriptFull):
		writeError(w, http.StatusConflict, "transcript_full", "the chat's transcript is full")
	case errors.Is(err, chatcore.ErrQuota):
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the chat store is at its quota")
	default:
		h.fail(w, r, err)
	}
}
