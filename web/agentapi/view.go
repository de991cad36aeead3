package agentapi

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"time"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// WebapiTokenKey is the userData key of the session-restoration token (async-chat.md §5): a
// desktop that re-joins after a restart passes its value in the join to restore the chat.
const WebapiTokenKey = "ChatServerWebapiToken"

// newWebapiToken makes a chat's restoration token; it is stored in the chat's userData
// (Annotate) when the first agent joins, so it survives restarts like the chat itself.
func newWebapiToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// webapiTokenOK compares a desktop's token with the chat's in constant time.
func webapiTokenOK(v chatcore.ChatView, got string) bool {
	want := v.UserData[WebapiTokenKey]
	return want != "" && got != "" && hmac.Equal([]byte(got), []byte(want))
}

// Chat states as an agent sees them.
const (
	ChatJoined  = "joined"  // the caller is in the chat
	ChatOffered = "offered" // routing offers it to the caller now
	ChatHeld    = "held"    // in the caller's workbin (placed on hold), the caller not in it
	ChatWaiting = "waiting" // live, no agent in it (queued, on hold, or new)
	ChatActive  = "active"  // live, handled by other agents
	ChatEnded   = "ended"
)

// ChatInfo is a chat as an agent, supervisor or bot sees it: its state and the actions the
// caller may send now (Capabilities). It never carries the customer's secureKey.
type ChatInfo struct {
	ChatID       string            `json:"chatId"`
	Service      string            `json:"service"`
	Queue        string            `json:"queue"`
	State        string            `json:"state"`
	Async        bool              `json:"async"`
	AsyncStatus  int               `json:"asyncStatus,omitempty"`
	Ended        bool              `json:"ended"`
	Created      time.Time         `json:"created"`
	Subject      string            `json:"subject,omitempty"`
	Email        string            `json:"email,omitempty"`
	Participants []PartInfo        `json:"participants"`
	UserData     map[string]string `json:"userData,omitempty"`
	Properties   map[string]string `json:"properties"`
	LastIndex    int64             `json:"lastIndex"`
	// Mode is a supervisor's mode in the chat: monitor, coach or barge.
	Mode         string   `json:"mode,omitempty"`
	Capabilities []string `json:"capabilities"`
}

// PartInfo is a participant.
type PartInfo struct {
	ParticipantID int    `json:"participantId"`
	UserID        string `json:"userId"`
	Nickname      string `json:"nickname"`
	Type          string `json:"type"`
	Present       bool   `json:"present"`
}

// Event is a transcript event as an agent sees it: the GMS shape plus visibility.
type Event struct {
	Index       int64             `json:"index"`
	Type        string            `json:"type"`
	UTCTime     int64             `json:"utcTime"`
	From        EventFrom         `json:"from"`
	Text        string            `json:"text,omitempty"`
	MessageType string            `json:"messageType,omitempty"`
	UserData    map[string]string `json:"userData,omitempty"`
	Visibility  string            `json:"visibility"`
}

// EventFrom is an event's sender.
type EventFrom struct {
	Nickname      string `json:"nickname"`
	ParticipantID int    `json:"participantId"`
	Type          string `json:"type"`
	UserID        string `json:"userId,omitempty"`
}

func wireEvent(e chatcore.Event) Event {
	vis := string(e.Visibility)
	if vis == "" {
		vis = string(chatcore.VisibilityAll)
	}
	return Event{
		Index: e.Index, Type: string(e.Type), UTCTime: e.UTCTime,
		From: EventFrom{Nickname: e.From.Nickname, ParticipantID: e.From.ParticipantID, Type: string(e.From.Type), UserID: e.From.UserID},
		Text: e.Text, MessageType: e.MessageType, UserData: e.UserData, Visibility: vis,
	}
}

// wireEvents converts the events a party of type t sees.
func wireEvents(evs []chatcore.Event, t chatcore.ParticipantType) []Event {
	evs = chatcore.VisibleEvents(evs, t)
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i] = wireEvent(e)
	}
	return out
}

// partyType is the participant type of an account.
func partyType(r accounts.Role) chatcore.ParticipantType {
	switch r {
	case accounts.RoleSupervisor:
		return chatcore.Supervisor
	case accounts.RoleBot:
		return chatcore.External
	}
	return chatcore.Agent
}

// Action names (REST paths and the "action" of CometD requests), also the capability names.
const (
	ActAccept      = "accept"
	ActReject      = "reject"
	ActJoin        = "join"
	ActSend        = "send"
	ActTypingStart = "typing-start"
	ActTypingStop  = "typing-stop"
	ActNotice      = "notice"
	ActPushURL     = "push-url"
	ActLeave       = "leave"
	ActEnd         = "end"
	ActHold        = "hold"
	ActRelease     = "release"
	ActTransfer    = "transfer"
	ActInvite      = "invite"
	ActDone        = "done"
	ActMode        = "mode"
)

// agentPresent reports whether an Agent participant is present.
func agentPresent(v chatcore.ChatView) bool {
	for _, p := range v.Participants {
		if p.Present && p.Type == chatcore.Agent {
			return true
		}
	}
	return false
}

// info builds the caller's view of a chat. inWorkbin, mayJoin and offered come from access.
func (a *API) info(v chatcore.ChatView, acct accounts.Account, inWorkbin, mayJoin, offered bool) ChatInfo {
	me, _ := v.Participant(acct.ID)
	present := me.Present && !v.Ended
	typ := partyType(acct.Role)
	ci := ChatInfo{
		ChatID: v.ID, Service: v.Service, Queue: a.cfg.QueueOf(v.Service), Async: v.Async, Ended: v.Ended,
		Created: v.Created, Subject: v.Subject, Email: v.Email, LastIndex: v.LastIndex, Properties: v.Properties(),
	}
	if v.Async {
		ci.AsyncStatus = v.AsyncStatus
	}
	ci.Participants = make([]PartInfo, 0, len(v.Participants))
	for _, p := range v.Participants {
		// A silently monitoring supervisor is invisible to agents and bots.
		if p.Type == chatcore.Supervisor && typ != chatcore.Supervisor && a.modeOf(p.UserID, v.ID) == chatcore.VisibilityVIP {
			continue
		}
		ci.Participants = append(ci.Participants, PartInfo{ParticipantID: p.ParticipantID, UserID: p.UserID, Nickname: p.Nickname, Type: string(p.Type), Present: p.Present})
	}
	ud := maps.Clone(v.UserData)
	if ud == nil {
		ud = map[string]string{}
	}
	if !present && !inWorkbin {
		delete(ud, WebapiTokenKey) // only for the desktops that handle the chat
	}
	ci.UserData = ud
	switch {
	case v.Ended:
		ci.State = ChatEnded
	case present:
		ci.State = ChatJoined
	case offered:
		ci.State = ChatOffered
	case inWorkbin:
		ci.State = ChatHeld
	case agentPresent(v):
		ci.State = ChatActive
	default:
		ci.State = ChatWaiting
	}
	if typ == chatcore.Supervisor && present {
		ci.Mode = modeName(a.modeOf(acct.ID, v.ID))
	}
	caps := []string{}
	if present {
		caps = append(caps, ActSend, ActTypingStart, ActTypingStop, ActNotice, ActPushURL, ActLeave, ActEnd, ActRelease, ActTransfer, ActInvite)
		if v.Async && typ == chatcore.Agent {
			caps = append(caps, ActHold)
		}
		if typ == chatcore.Supervisor {
			caps = append(caps, ActMode)
		}
	} else if !v.Ended {
		if offered {
			caps = append(caps, ActAccept, ActReject)
		}
		if mayJoin {
			caps = append(caps, ActJoin)
		}
	}
	if !present && (inWorkbin || me.UserID != "") {
		caps = append(caps, ActDone)
	}
	ci.Capabilities = caps
	return ci
}

// Supervisor modes and the visibility of their messages.
func modeName(v chatcore.Visibility) string {
	switch v {
	case chatcore.VisibilityVIP:
		return "monitor"
	case chatcore.VisibilityInternal:
		return "coach"
	}
	return "barge"
}

func parseMode(s string) (chatcore.Visibility, bool) {
	switch s {
	case "monitor":
		return chatcore.VisibilityVIP, true
	case "coach":
		return chatcore.VisibilityInternal, true
	case "barge":
		return chatcore.VisibilityAll, true
	}
	return "", false
}

// modeOf is a supervisor's mode in a chat, as the default visibility of its messages. Modes
// are per node and in memory; a mode not known here (after a restart) is monitor, the one
// that cannot show the customer anything by mistake.
func (a *API) modeOf(userID, chatID string) chatcore.Visibility {
	a.mu.Lock()
	defer a.mu.Unlock()
	if v, ok := a.modes[userID][chatID]; ok {
		return v
	}
	return chatcore.VisibilityVIP
}

func (a *API) setMode(userID, chatID string, v chatcore.Visibility) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.modes[userID]
	if m == nil {
		m = map[string]chatcore.Visibility{}
		a.modes[userID] = m
	}
	m[chatID] = v
}

func (a *API) clearMode(userID, chatID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.modes[userID], chatID)
	if len(a.modes[userID]) == 0 {
		delete(a.modes, userID)
	}
}
