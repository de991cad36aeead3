package agentapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
	"github.com/nats-io/nats.go/jetstream"
)

// Chats is what the API needs of the chat core; *chatcore.Core implements it.
type Chats interface {
	Chat(chatID string) (chatcore.ChatView, error)
	ChatIDs() []string
	EventsPage(ctx context.Context, chatID string, from int64, maxEvents, maxBytes int) (chatcore.Page, error)
	Join(ctx context.Context, chatID string, j chatcore.JoinRequest) (chatcore.Participant, chatcore.Result, error)
	SendVisible(ctx context.Context, chatID, userID, text, messageType string, vis chatcore.Visibility) (chatcore.Result, error)
	StartTyping(ctx context.Context, chatID, userID, text string) (chatcore.Result, error)
	StopTyping(ctx context.Context, chatID, userID, text string) (chatcore.Result, error)
	PushURL(ctx context.Context, chatID, userID, url string) (chatcore.Result, error)
	CustomNotice(ctx context.Context, chatID, userID, text string) (chatcore.Result, error)
	LeaveWith(ctx context.Context, chatID, userID string, reason chatcore.QuitReason, vis chatcore.Visibility) (chatcore.Result, error)
	EndChat(ctx context.Context, chatID, byUserID string) (chatcore.Result, error)
	Hold(ctx context.Context, chatID, byUserID string) (chatcore.Result, error)
	ReleaseToQueue(ctx context.Context, chatID, byUserID string) (chatcore.Result, error)
	Transfer(ctx context.Context, chatID, fromUserID string, to chatcore.JoinRequest) (chatcore.Participant, chatcore.Result, error)
	AgentLost(ctx context.Context, chatID, userID string) (chatcore.Result, error)
	Annotate(ctx context.Context, chatID string, data map[string]string) (chatcore.Result, error)
	Restore(ctx context.Context, chatID string, by chatcore.RestoreBy) (chatcore.Result, error)
	UploadFile(ctx context.Context, chatID, userID string, u chatcore.Upload) (chatcore.Result, error)
	DownloadFile(ctx context.Context, chatID, userID, fileID string) (chatcore.FileMeta, io.ReadCloser, error)
	FileLimits(ctx context.Context, chatID, userID string) (chatcore.FileLimits, error)
}

// Accounts is what the API needs of the account store; *accounts.Store implements it.
type Accounts interface {
	Authenticate(ctx context.Context, token string) (accounts.Principal, error)
	Login(ctx context.Context, id, password string) (string, time.Time, accounts.Account, error)
	Logout(ctx context.Context, token string) error
	Get(ctx context.Context, id string) (accounts.Account, error)
	List(ctx context.Context) ([]accounts.Account, error)
}

// Sessions delivers to Bayeux sessions; *bayeux.Server implements it.
type Sessions interface {
	Deliver(ctx context.Context, sessionID, channel string, data any) error
}

// KVOpener opens (creating or updating) a KV bucket; *natsserver.Conn implements it.
type KVOpener interface {
	KV(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error)
}

// Timer is a stoppable timer (of Clock).
type Timer interface{ Stop() bool }

// Clock gives time and grace timers; nil in Config is the real clock.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}

// Config configures the API.
type Config struct {
	Chats    Chats    // required
	Accounts Accounts // required
	KV       KVOpener // required (workbins)
	// Sessions delivers per-agent Bayeux messages; nil disables real-time delivery.
	Sessions Sessions
	Logger   *slog.Logger
	Clock    Clock
	// QueueOf maps a service to its queue (default: the queue is named like the service).
	QueueOf func(service string) string
	// HistoryKey is the userData key that identifies a customer for contact history when no
	// e-mail address was given (default "customerId"; e-mail is always used).
	HistoryKey string
	// DisconnectGrace is how long an agent's desktop may stay without a Bayeux session
	// before its chats go back to routing (default 30 s).
	DisconnectGrace time.Duration
	// LoginPerMinute bounds login attempts per account id (default 10 a minute); per client
	// address the bound is ten times that.
	LoginPerMinute int
	// MaxBody bounds a request body (default 64 KiB: a message is at most 16 KiB of text).
	MaxBody int64
	// MaxUpload bounds the file of one upload (default 2 MiB), the transport ceiling on top
	// of the chat's own upload-max-file-size; the body of an upload may be MaxUpload+MaxBody.
	MaxUpload int64
	// MaxList bounds lists (history, supervisor chat lists; default 200).
	MaxList int
	// MaxConnections caps the Bayeux sessions of agents, supervisors and bots on this node
	// (default 10000); a handshake beyond it answers 503::too_many_agent_connections.
	MaxConnections int
	// Idempotency holds Idempotency-Key records (web/idempotency, bucket
	// CHATGATE_IDEMPOTENCY shared with the workflow API): an action (POST
	// /chats/{chatId}/{action}) with the header acts once per key and caller. nil: the header
	// is ignored.
	Idempotency jetstream.KeyValue
	// Responses are the standard responses (web/agentapi/responses); nil: agents get an
	// empty list.
	Responses StandardResponses
	// Router is the routing engine (chatcore/routing): agents' presence is mirrored to it,
	// its offers go to /agent/{id}/offers, accept and reject answer them. nil: no routing,
	// agents pick waiting chats of their queues with join.
	Router Router
	// BoardInterval is the shortest time between two boards a supervisor's session receives
	// on /agent/{id}/board (default 1 s): changes inside it are coalesced into one board.
	BoardInterval time.Duration
	// SampleInterval is how often the board's chart is sampled (default 10 s; an hour of
	// samples is kept).
	SampleInterval time.Duration
}

// Defaults.
const (
	DefaultDisconnectGrace = 30 * time.Second
	DefaultLoginPerMinute  = 10
	DefaultMaxBody         = 64 << 10
	DefaultMaxUpload       = 2 << 20
	DefaultMaxList         = 200
	DefaultHistoryKey      = "customerId"
	DefaultMaxConnections  = 10000
)

// Errors of the API, each with its HTTP status (see statusOf). Wrapped with %w.
var (
	ErrUnauthorized = errors.New("agentapi: missing or bad token")           // 401
	ErrForbidden    = errors.New("agentapi: not allowed")                    // 403
	ErrNotFound     = errors.New("agentapi: unknown chat")                   // 404
	ErrInvalid      = errors.New("agentapi: invalid request")                // 400
	ErrConflict     = errors.New("agentapi: not possible in this state")     // 409
	ErrUnavailable  = errors.New("agentapi: service unavailable, retry")     // 503
	ErrRateLimited  = errors.New("agentapi: too many attempts, retry later") // 429
)

// API is the agent API.
type API struct {
	cfg   Config
	log   *slog.Logger
	clock Clock
	wb    *workbins
	// contacts indexes chats by customer for contact history.
	contacts *contacts
	st       stats

	mu sync.Mutex
	// agents is the presence of every account that logged in or connected on this node.
	agents map[string]*agent
	// bySession maps a Bayeux session id to its account id.
	bySession map[string]string
	// staff: chat id → present non-customer participants (userId → type), kept from the
	// core's events so "my chats" and lost desktops need no scan.
	staff map[string]map[string]chatcore.ParticipantType
	// modes: supervisor id → chat id → visibility of its messages (monitor VIP, coach INT,
	// barge ALL).
	modes  map[string]map[string]chatcore.Visibility
	closed bool

	// board builds and delivers the supervisors' wall boards (board.go); its lock is never
	// held with mu.
	board *board
}

// New builds the API and indexes the present agents of the chats in the core.
func New(ctx context.Context, cfg Config) (*API, error) {
	if cfg.Chats == nil || cfg.Accounts == nil || cfg.KV == nil {
		return nil, errors.New("agentapi: Config.Chats, Accounts and KV are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.QueueOf == nil {
		cfg.QueueOf = func(s string) string { return s }
	}
	if cfg.HistoryKey == "" {
		cfg.HistoryKey = DefaultHistoryKey
	}
	if cfg.DisconnectGrace <= 0 {
		cfg.DisconnectGrace = DefaultDisconnectGrace
	}
	if cfg.LoginPerMinute <= 0 {
		cfg.LoginPerMinute = DefaultLoginPerMinute
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.MaxList <= 0 {
		cfg.MaxList = DefaultMaxList
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.BoardInterval <= 0 {
		cfg.BoardInterval = DefaultBoardInterval
	}
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = DefaultSampleInterval
	}
	wb, err := openWorkbins(ctx, cfg.KV)
	if err != nil {
		return nil, err
	}
	ct, err := openContacts(ctx, cfg.KV)
	if err != nil {
		return nil, err
	}
	a := &API{
		cfg: cfg, log: cfg.Logger, clock: cfg.Clock, wb: wb, contacts: ct, st: stats{actions: map[[2]string]uint64{}},
		agents: map[string]*agent{}, bySession: map[string]string{},
		staff: map[string]map[string]chatcore.ParticipantType{}, modes: map[string]map[string]chatcore.Visibility{},
	}
	for _, id := range cfg.Chats.ChatIDs() {
		if v, err := cfg.Chats.Chat(id); err == nil && !v.Ended {
			a.indexChat(v)
		}
	}
	a.board = newBoard(a)
	return a, nil
}

// Close stops the grace timers and the contact index writer. In-flight requests may still
// finish.
func (a *API) Close() {
	a.mu.Lock()
	a.closed = true
	for _, ag := range a.agents {
		if ag.lost != nil {
			ag.lost.Stop()
			ag.lost = nil
		}
	}
	a.mu.Unlock()
	a.board.close()
	a.contacts.close()
}

// indexChat records the present staff of a chat from its view.
func (a *API) indexChat(v chatcore.ChatView) {
	var m map[string]chatcore.ParticipantType
	if !v.Ended {
		for _, p := range v.Participants {
			if p.Present && p.Type != chatcore.Client {
				if m == nil {
					m = map[string]chatcore.ParticipantType{}
				}
				m[p.UserID] = p.Type
			}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if m == nil {
		delete(a.staff, v.ID)
		return
	}
	a.staff[v.ID] = m
}

// chatsOf lists the live chats the account is present in.
func (a *API) chatsOf(id string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for chat, m := range a.staff {
		if _, ok := m[id]; ok {
			out = append(out, chat)
		}
	}
	return out
}

// errorf wraps a sentinel with a message.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), sentinel)
}
