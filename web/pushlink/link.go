package pushlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatgate/chatgate/push"
)

// Presence tells whether a participant has a live CometD connection to a chat. The GMS
// adapter (web/gmschat) implements it; across nodes it answers from shared presence.
type Presence interface {
	Connected(chatID, userID string) bool
}

// Participant types as the chat core names them.
const (
	ParticipantClient   = "Client"
	ParticipantAgent    = "Agent"
	ParticipantExternal = "External"
	ParticipantSuper    = "Supervisor"
)

// Event is the part of a committed chat event pushlink needs (chatcore.Event mapped by
// the adapter in chatcore.go).
type Event struct {
	Index        int64
	Type         string // chatcore EventType: "Message", "ParticipantJoined", "ParticipantLeft", "Notice", ...
	FromID       string
	FromNickname string
	FromType     string // "Client", "Agent", "Supervisor", "External"
	Text         string
	MessageType  string
	UserData     map[string]string
	// CustomerHidden: the customer may not see the event (coaching INT or monitoring VIP
	// visibility); it is never pushed.
	CustomerHidden bool
}

// ChatInfo is the chat state pushlink needs to address a customer.
type ChatInfo struct {
	ID, Service string
	// UserData is the chat's current userData (requestChat, then updateData).
	UserData map[string]string
	// CustomerID is the userId of the customer who created the chat; SecureKey and Alias
	// are put into pushes when flex-push-content asks.
	CustomerID, SecureKey, Alias string
	// CustomerPresent is false once the customer has left or was removed.
	CustomerPresent bool
	Ended           bool
	// Restored says the chat was restored by an agent desktop or the workflow
	// (session-restore-push-send decides whether pushes resume).
	Restored bool
}

// ChatSource reads chat state (the adapter over *chatcore.Core).
type ChatSource interface {
	PushChat(ctx context.Context, chatID string) (ChatInfo, error)
}

// Settings are the live options that govern pushes for one service. Zero values are not
// the defaults; use DefaultSettings.
type Settings struct {
	// ToActiveClient: push_notification_to_active_client (default false: no push to a
	// customer whose CometD connection is live).
	ToActiveClient bool
	// FlexPushOnJoin: flex-push-on-join (default false) — honour GCTI_Chat_PushSubscribe.
	FlexPushOnJoin bool
	// ResendDelay / ResendAttempts: flex-push-resend-delay (15 s) and
	// flex-push-resend-attempts (chatgate default 5; the original's default is not
	// published).
	ResendDelay    time.Duration
	ResendAttempts int
	// Content: flex-push-content, any of app-dbid, secure-key, session-id, user-id
	// (default session-id, user-id).
	Content []string
	// AppDBID is the value sent for app-dbid.
	AppDBID string
	// SessionRestorePushSend: session-restore-push-send (default false).
	SessionRestorePushSend bool
	// TTL is how long push services keep a notification for an offline device (default
	// flex-push-timeout, 300 s; async deployments set it large).
	TTL time.Duration
}

// DefaultSettings are the documented defaults.
func DefaultSettings() Settings {
	return Settings{ResendDelay: 15 * time.Second, ResendAttempts: 5, Content: []string{"session-id", "user-id"}, TTL: 300 * time.Second}
}

// Sender is what pushlink needs from the dispatcher (*push.Dispatcher implements it).
type Sender interface {
	Enqueue(n push.Notification) (string, error)
	Deliver(ctx context.Context, n push.Notification) (push.Result, error)
	Ack(id string) bool
}

// Config configures a Link.
type Config struct {
	Sender   Sender
	Chats    ChatSource
	Presence Presence // nil: nobody is ever considered connected
	// Settings returns the live settings of a service (nil: DefaultSettings).
	Settings  func(service string) Settings
	Templates Templates // nil: DefaultTemplates()
	Logger    *slog.Logger
	// PingTimeout bounds a liveness ping (default 30 s).
	PingTimeout time.Duration
	// MaxDead bounds the remembered dead subscriptions (default 100,000).
	MaxDead int
	// LookupTimeout bounds reading chat state for one event (default 5 s).
	LookupTimeout time.Duration
}

// Link decides who is notified of chat events, sends it through the dispatcher, and
// answers the chat core's liveness question.
type Link struct {
	cfg Config
	log *slog.Logger

	mu   sync.Mutex
	dead map[string]struct{} // target keys a provider reported gone
	// closed: chats whose idle close was pushed (IdleClose, with message-close); the
	// chat-ended push that follows in the same commit is not sent as well.
	closed map[string]struct{}

	notified, suppressed, skippedDead, enqueueFailed atomic.Uint64

	stopResults func()
}

// New makes a Link.
func New(cfg Config) (*Link, error) {
	if cfg.Sender == nil || cfg.Chats == nil {
		return nil, errors.New("pushlink: Sender and Chats are required")
	}
	if cfg.Settings == nil {
		cfg.Settings = func(string) Settings { return DefaultSettings() }
	}
	if cfg.Templates == nil {
		cfg.Templates = DefaultTemplates()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = 30 * time.Second
	}
	if cfg.MaxDead <= 0 {
		cfg.MaxDead = 100000
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = 5 * time.Second
	}
	l := &Link{cfg: cfg, log: cfg.Logger, dead: map[string]struct{}{}, closed: map[string]struct{}{}}
	if rs, ok := cfg.Sender.(interface {
		OnResult(func(push.Result)) func()
	}); ok {
		l.stopResults = rs.OnResult(l.OnResult)
	}
	return l, nil
}

// Close stops listening to the dispatcher's results.
func (l *Link) Close() {
	if l.stopResults != nil {
		l.stopResults()
	}
}

// targetKey identifies a device or browser subscription.
func targetKey(t push.Target) string {
	id := t.DeviceID
	if t.WebPush != nil {
		id = t.WebPush.Endpoint
	}
	return string(t.Kind) + "|" + t.Provider + "|" + strconv.FormatBool(t.Debug) + "|" + id
}

// OnResult receives the dispatcher's results (New subscribes it when the Sender is a
// *push.Dispatcher): a dead target is remembered so it is not pushed again and liveness checks answer "not alive" at once.
func (l *Link) OnResult(r push.Result) {
	if r.Outcome != push.OutcomeDead {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.dead) >= l.cfg.MaxDead {
		for k := range l.dead { // evict an arbitrary entry: the bound matters, not which
			delete(l.dead, k)
			break
		}
	}
	l.dead[targetKey(r.Target)] = struct{}{}
}

func (l *Link) isDead(t push.Target) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.dead[targetKey(t)]
	return ok
}

// Ack acknowledges a reliable notification (GCTI_GMS_PushResend).
func (l *Link) Ack(id string) bool { return l.cfg.Sender.Ack(id) }

// Stats are the link's counters.
type Stats struct {
	Notified      uint64 `json:"notified"`
	Suppressed    uint64 `json:"suppressedActiveClient"`
	SkippedDead   uint64 `json:"skippedDead"`
	EnqueueFailed uint64 `json:"enqueueFailed"`
}

// Stats returns the counters.
func (l *Link) Stats() Stats {
	return Stats{l.notified.Load(), l.suppressed.Load(), l.skippedDead.Load(), l.enqueueFailed.Load()}
}

// classify says whether ev notifies the customer, and as what.
func classify(ev Event, chat ChatInfo) (Type, bool) {
	staff := ev.FromType == ParticipantAgent || ev.FromType == ParticipantSuper || ev.FromType == ParticipantExternal
	switch ev.Type {
	case "Message":
		return TypeMessage, staff && ev.FromID != chat.CustomerID
	case "ParticipantJoined":
		return TypeAgentJoined, ev.FromType == ParticipantAgent
	case "ParticipantLeft":
		if chat.Ended {
			// The end is told once, by the customer's own leave: the chat core commits every
			// remaining participant's leave together with the end, the customer's included,
			// and chat is the state after that commit, so an agent's leave in it cannot
			// tell whether it ended the chat. A customer who logged out (reason 0) was
			// filtered above.
			return TypeChatEnded, ev.FromID == chat.CustomerID
		}
		return TypeAgentLeft, ev.FromType == ParticipantAgent
	case "Notice":
		switch ev.UserData["idle-control"] {
		case "alert", "alert2":
			return TypeIdleAlert, true
		case "close":
			return TypeIdleClose, true
		}
	}
	return "", false
}

// HandleEvent notifies the chat's customer of ev when it is one of the notifying events,
// the customer registered for push, is not connected (unless push to active clients is
// on) and the subscription is not known dead. It never blocks on a provider.
func (l *Link) HandleEvent(ctx context.Context, chatID string, ev Event) {
	if ev.CustomerHidden {
		return
	}
	if ev.FromType == ParticipantClient && (ev.Type != "ParticipantLeft" || ev.UserData["quit-reason-code"] == "0") {
		return // the customer's own actions (including logging out) never notify the customer
	}
	switch ev.Type {
	case "Message", "ParticipantJoined", "ParticipantLeft", "Notice":
	default:
		return
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.LookupTimeout)
	defer cancel()
	chat, err := l.cfg.Chats.PushChat(ctx, chatID)
	if err != nil {
		l.log.Warn("push: chat lookup failed", "chat", chatID, "err", err)
		return
	}
	typ, ok := classify(ev, chat)
	if !ok {
		return
	}
	// The chat state is read after the event's commit: the idle close notice is committed
	// together with the customer's removal, so it is still the customer's to receive.
	if !chat.CustomerPresent && typ != TypeChatEnded && typ != TypeIdleClose {
		return
	}
	if typ == TypeChatEnded && l.takeClosed(chatID) {
		return // the IdleClose push (message-close) already said it
	}
	set := l.cfg.Settings(chat.Service)
	sub, err := ParseSubscription(chat.UserData, set.FlexPushOnJoin)
	if err != nil {
		if !errors.Is(err, ErrNoSubscription) {
			l.log.Info("push: unusable subscription", "chat", chatID, "err", err)
		}
		return
	}
	if chat.Restored && !set.SessionRestorePushSend {
		return
	}
	if !l.cfg.Templates.Enabled(sub.Language, typ) {
		return // the deployment turned this kind of notification off
	}
	toActive := set.ToActiveClient
	if sub.ToActiveClient != nil {
		toActive = *sub.ToActiveClient
	}
	if !toActive && l.cfg.Presence != nil && l.cfg.Presence.Connected(chatID, chat.CustomerID) {
		l.suppressed.Add(1)
		return
	}
	if l.isDead(sub.Target) {
		l.skippedDead.Add(1)
		return
	}
	n := l.notification(chat, sub, set, typ, ev)
	if _, err := l.cfg.Sender.Enqueue(n); err != nil {
		l.enqueueFailed.Add(1)
		l.log.Warn("push: not queued", "chat", chatID, "type", typ, "err", err)
		return
	}
	l.notified.Add(1)
	if typ == TypeIdleClose {
		l.markClosed(chatID)
	}
}

// markClosed remembers that chatID's idle close was pushed, until its chat-ended event.
func (l *Link) markClosed(chatID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.closed) >= l.cfg.MaxDead {
		for k := range l.closed { // bound only; an evicted chat gets both pushes
			delete(l.closed, k)
			break
		}
	}
	l.closed[chatID] = struct{}{}
}

func (l *Link) takeClosed(chatID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.closed[chatID]
	delete(l.closed, chatID)
	return ok
}

func (l *Link) notification(chat ChatInfo, sub Subscription, set Settings, typ Type, ev Event) push.Notification {
	data := map[string]string{"event": string(typ)}
	for _, c := range set.Content {
		switch c {
		case "session-id":
			data["chatId"] = chat.ID
		case "user-id":
			data["userId"] = chat.CustomerID
		case "secure-key":
			// Known only to the node that created the chat (the store keeps a hash).
			if chat.SecureKey != "" {
				data["secureKey"] = chat.SecureKey
			}
		case "app-dbid":
			if set.AppDBID != "" {
				data["appDbid"] = set.AppDBID
			}
		}
	}
	if chat.Alias != "" {
		data["alias"] = chat.Alias
	}
	n := push.Notification{Target: sub.Target, Data: data, TTL: set.TTL, Collapse: "chat-" + chat.ID}
	if typ == TypePing {
		n.Collapse = "ping-" + chat.ID
		return n
	}
	if sub.IncludePayload {
		if ev.Index > 0 {
			data["transcriptPosition"] = strconv.FormatInt(ev.Index, 10)
		}
		if ev.FromNickname != "" {
			data["nickname"] = ev.FromNickname
		}
	}
	n.Title, n.Body = l.cfg.Templates.Render(sub.Language, typ, ev.FromNickname, ev.Text, chat.ID)
	if typ == TypeMessage {
		n.Collapse = "" // every agent message is shown
	}
	if sub.Resend {
		n.Resend = &push.Resend{Delay: set.ResendDelay, MaxAttempts: set.ResendAttempts}
	}
	return n
}

// ErrPingFailed means the liveness ping could not be delivered for a reason other than a
// dead device (provider down, no credential): the customer is not confirmed alive.
var ErrPingFailed = errors.New("pushlink: liveness ping not delivered")

// CheckAlive answers the chat core's liveness question for a push-enabled customer whose
// flex-push-timeout expired: alive if the customer has a live CometD connection; otherwise
// a silent ping is pushed and its delivery decides (a dead device is not alive). Without a
// usable subscription, or when pushes are off after a restoration, the answer is false.
func (l *Link) CheckAlive(ctx context.Context, chatID, userID string) (bool, error) {
	if l.cfg.Presence != nil && l.cfg.Presence.Connected(chatID, userID) {
		return true, nil
	}
	chat, err := l.cfg.Chats.PushChat(ctx, chatID)
	if err != nil {
		return false, fmt.Errorf("pushlink: liveness of %s: %w", chatID, err)
	}
	set := l.cfg.Settings(chat.Service)
	if chat.Restored && !set.SessionRestorePushSend {
		return false, nil
	}
	sub, err := ParseSubscription(chat.UserData, set.FlexPushOnJoin)
	if err != nil || (userID != "" && userID != chat.CustomerID) {
		return false, nil
	}
	if l.isDead(sub.Target) {
		return false, nil
	}
	n := l.notification(chat, sub, set, TypePing, Event{})
	n.MaxAttempts = 1
	ctx, cancel := context.WithTimeout(ctx, l.cfg.PingTimeout)
	defer cancel()
	r, err := l.cfg.Sender.Deliver(ctx, n)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrPingFailed, err)
	}
	switch r.Outcome {
	case push.OutcomeDelivered:
		return true, nil
	case push.OutcomeDead:
		l.OnResult(r)
		return false, nil
	}
	return false, fmt.Errorf("%w: %s %s", ErrPingFailed, r.Outcome, r.Reason)
}

// AckHandler serves POST {"id": "<notification id>"} from a notification receiver that
// got a reliable push (the JSON "id" field of the push). 204 when the id was awaiting an
// acknowledgement, 404 otherwise. Mount it where receivers can reach it, e.g.
// POST /genesys/2/chat-push/ack.
func (l *Link) AckHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		var body struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.ID == "" {
			http.Error(w, `want {"id": "..."}`, http.StatusBadRequest)
			return
		}
		if !l.Ack(body.ID) {
			http.Error(w, "unknown or already acknowledged", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
