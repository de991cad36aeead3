package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/idempotency"
)

// Operations are the workflow's actions on a chat; *chatcore.Core implements them.
type Operations interface {
	SystemNotice(ctx context.Context, chatID, text string, userData map[string]string) (chatcore.Result, error)
	Annotate(ctx context.Context, chatID string, data map[string]string) (chatcore.Result, error)
	EndChat(ctx context.Context, chatID, byUserID string) (chatcore.Result, error)
	Join(ctx context.Context, chatID string, j chatcore.JoinRequest) (chatcore.Participant, chatcore.Result, error)
}

// IdempotencyBucket, HeaderIdempotencyKey, HeaderReplayed and DefaultPendingTimeout are
// web/idempotency's, which makes the operations act once per Idempotency-Key (shared with
// the agent API).
const (
	IdempotencyBucket     = idempotency.Bucket
	HeaderIdempotencyKey  = idempotency.HeaderKey
	HeaderReplayed        = idempotency.HeaderReplayed
	DefaultPendingTimeout = idempotency.DefaultPendingTimeout
)

// idempotent makes next act once per Idempotency-Key (web/idempotency); without the bucket
// every call acts.
func (h *handler) idempotent(next http.HandlerFunc) http.HandlerFunc {
	if h.idem == nil {
		return next
	}
	return h.idem.Wrap(next)
}

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
