package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/apijson"
	"github.com/chatgate/chatgate/web/apiroute"
	"github.com/chatgate/chatgate/web/idempotency"
)

// Chats is what the API needs of the chat core; *chatcore.Core implements it.
type Chats interface {
	Chat(chatID string) (chatcore.ChatView, error)
	Restore(ctx context.Context, chatID string, by chatcore.RestoreBy) (chatcore.Result, error)
	CheckDue() []chatcore.ChatView
}

// Config configures the API.
type Config struct {
	// Chats is the chat core (required).
	Chats Chats
	// Auth decides who may call the API (required); the admin APIs' credentials.
	Auth   *adminauth.Credentials
	Logger *slog.Logger
	// MaxBody bounds request bodies (default 4 KiB; the API takes none that matter).
	MaxBody int64
	// MaxList bounds the chats one check-due answer lists (default 1000); ?limit= may ask
	// for fewer.
	MaxList int
	// Ops enables the operations (system message, properties, end, add a bot); nil: they
	// answer 404.
	Ops Operations
	// Bots looks up the bot accounts POST /chats/{chatId}/bots adds; nil (or Ops nil): that
	// path answers 404.
	Bots BotAccounts
	// Idempotency holds the Idempotency-Key records (bucket IdempotencyBucket, with a TTL);
	// nil: the header is ignored and every call acts.
	Idempotency jetstream.KeyValue
	// PendingTimeout: see DefaultPendingTimeout. Now defaults to time.Now.
	PendingTimeout time.Duration
	Now            func() time.Time
}

// Defaults of Config.
const (
	DefaultMaxBody = 4 << 10
	DefaultMaxList = 1000
	maxChatID      = 128
)

type handler struct {
	cfg  Config
	log  *slog.Logger
	mux  http.Handler
	idem *idempotency.Keys // nil without Config.Idempotency
}

// New returns the workflow API handler. Its routes are relative to where it is mounted,
// e.g. srv.Handle("/workflow/v1/", http.StripPrefix("/workflow/v1", h)).
func New(cfg Config) (http.Handler, error) {
	if cfg.Chats == nil {
		return nil, errors.New("workflow: Config.Chats is required")
	}
	if cfg.Auth == nil {
		return nil, errors.New("workflow: Config.Auth is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxList <= 0 {
		cfg.MaxList = DefaultMaxList
	}
	if cfg.PendingTimeout <= 0 {
		cfg.PendingTimeout = DefaultPendingTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &handler{cfg: cfg, log: cfg.Logger}
	if cfg.Idempotency != nil {
		h.idem = idempotency.New(idempotency.Config{KV: cfg.Idempotency, PendingTimeout: cfg.PendingTimeout, Now: cfg.Now, Logger: cfg.Logger})
	}
	// 404 and 405 (with Allow) come from the router, in the apijson shape.
	rt := apiroute.New()
	rt.Get("/chats", h.list)
	rt.Get("/chats/{chatId}", h.get)
	rt.Post("/chats/{chatId}/restore", h.restore)
	if cfg.Ops != nil {
		rt.Post("/chats/{chatId}/messages", h.idempotent(h.sendMessage))
		rt.Post("/chats/{chatId}/properties", h.idempotent(h.setProperties))
		rt.Post("/chats/{chatId}/end", h.idempotent(h.end))
		if cfg.Bots != nil {
			rt.Post("/chats/{chatId}/bots", h.idempotent(h.addBot))
		}
	}
	h.mux = cfg.Auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBody)
		rt.ServeHTTP(w, r)
	}))
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// SessionInfo is a chat as the workflow sees it. It never carries the secureKey.
type SessionInfo struct {
	ChatID  string `json:"chatId"`
	Service string `json:"service"`
	// Alias names the node that owns the chat (also ChatServerAppName).
	Alias   string    `json:"alias"`
	Async   bool      `json:"async"`
	Ended   bool      `json:"ended"`
	Created time.Time `json:"created"`
	Subject string    `json:"subject,omitempty"`
	// LastIndex is the transcript's last event index (transcriptPosition lastIndex+1 reads
	// nothing older).
	LastIndex int64 `json:"lastIndex"`
	// Restored says the session was restored (by the workflow or the agent desktop);
	// RestoredBy ("esp" or "agent") and RestoredAt describe the last restoration.
	Restored   bool       `json:"restored"`
	RestoredBy string     `json:"restoredBy,omitempty"`
	RestoredAt *time.Time `json:"restoredAt,omitempty"`
	// Properties are the interaction properties the core maintains: GCTI_Chat_AsyncStatus
	// and GCTI_Chat_AsyncCheckAt (async chats; CheckAt once set, Unix seconds), IsOnline,
	// ChatServerAppName.
	Properties   map[string]string `json:"properties"`
	Participants []ParticipantInfo `json:"participants"`
	UserData     map[string]string `json:"userData,omitempty"`
}

// ParticipantInfo is one participant, present or past.
type ParticipantInfo struct {
	ParticipantID int    `json:"participantId"`
	UserID        string `json:"userId"`
	Type          string `json:"type"`
	Nickname      string `json:"nickname"`
	Present       bool   `json:"present"`
}

// Info builds the session info of a chat snapshot.
func Info(v chatcore.ChatView) SessionInfo {
	s := SessionInfo{
		ChatID: v.ID, Service: v.Service, Alias: v.Alias, Async: v.Async, Ended: v.Ended,
		Created: v.Created.UTC(), Subject: v.Subject, LastIndex: v.LastIndex,
		Restored: v.Restored, RestoredBy: string(v.RestoredBy),
		Properties: v.Properties(), UserData: v.UserData,
		Participants: make([]ParticipantInfo, len(v.Participants)),
	}
	if v.Restored && !v.RestoredAt.IsZero() {
		at := v.RestoredAt.UTC()
		s.RestoredAt = &at
	}
	for i, p := range v.Participants {
		s.Participants[i] = ParticipantInfo{ParticipantID: p.ParticipantID, UserID: p.UserID, Type: string(p.Type), Nickname: p.Nickname, Present: p.Present}
	}
	return s
}

// CheckDueList is the answer of GET /chats?checkDue=1.
type CheckDueList struct {
	Chats []SessionInfo `json:"chats"`
	// Truncated says more chats were due than listed (raise ?limit= up to the maximum, or
	// act on these first: they are the earliest).
	Truncated bool `json:"truncated"`
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	id, ok := chatID(w, r)
	if !ok {
		return
	}
	v, err := h.cfg.Chats.Chat(id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, Info(v))
}

func (h *handler) restore(w http.ResponseWriter, r *http.Request) {
	id, ok := chatID(w, r)
	if !ok {
		return
	}
	if !emptyObject(w, r) {
		return
	}
	res, err := h.cfg.Chats.Restore(r.Context(), id, chatcore.RestoreByWorkflow)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, Info(res.Chat))
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	due, err := strconv.ParseBool(q.Get("checkDue"))
	if err != nil || !due {
		writeError(w, http.StatusBadRequest, "bad_request", "checkDue=1 is required (only the chats due for a check are listed)")
		return
	}
	limit := h.cfg.MaxList
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > h.cfg.MaxList {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit must be an integer from 1 to %d", h.cfg.MaxList))
			return
		}
		limit = n
	}
	views := h.cfg.Chats.CheckDue()
	out := CheckDueList{Chats: []SessionInfo{}}
	if len(views) > limit {
		views, out.Truncated = views[:limit], true
	}
	for _, v := range views {
		out.Chats = append(out.Chats, Info(v))
	}
	writeJSON(w, http.StatusOK, out)
}

// chatID reads {chatId}; an id no chat can have is answered 404 at once.
func chatID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("chatId")
	if id == "" || len(id) > maxChatID {
		writeError(w, http.StatusNotFound, "chat_not_found", "no such chat")
		return "", false
	}
	return id, true
}

// emptyObject accepts an empty body or a JSON object without members (the restore request
// has no parameters); anything else is refused, over MaxBody with 413.
func emptyObject(w http.ResponseWriter, r *http.Request) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body over %d bytes", mbe.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "bad_request", "request body could not be read")
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var v struct{}
	if err := dec.Decode(&v); err != nil || dec.More() {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must be empty or {} (restore takes no parameters)")
		return false
	}
	return true
}

// fail answers a core error with its status and a stable code.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, chatcore.ErrChatNotFound):
		writeError(w, http.StatusNotFound, "chat_not_found", "no such chat")
	case errors.Is(err, chatcore.ErrRestoreNotAllowed):
		writeError(w, http.StatusConflict, "restore_not_allowed", "session-restore-extend-by does not allow the workflow to restore this chat (it must be esp or both)")
	case errors.Is(err, chatcore.ErrChatEnded):
		writeError(w, http.StatusConflict, "chat_ended", "the chat has ended; an ended chat cannot be restored")
	case errors.Is(err, chatcore.ErrInvalid):
		writeError(w, http.StatusConflict, "not_async", "only async chats (GCTI_Chat_AsyncMode=true) can be restored")
	case errors.Is(err, chatcore.ErrConflict), errors.Is(err, chatcore.ErrUnavailable), errors.Is(err, chatcore.ErrClosed):
		h.log.Warn("workflow: chat store not available", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the chat store did not answer; retry")
	default:
		h.log.Error("workflow: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) { apijson.Write(w, status, v) }

func writeError(w http.ResponseWriter, status int, code, msg string) {
	apijson.Error(w, status, code, msg)
}
