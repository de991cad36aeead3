package chatcore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stateVersion is the version of the persisted chat state document: 2 counts
// transcriptBytes (a version-1 document has its transcript's bytes recounted once).
const stateVersion = 2

// participant is one participant as kept in the chat state.
type participant struct {
	PID      int             `json:"pid"`
	UserID   string          `json:"userId"`
	Type     ParticipantType `json:"type"`
	Nickname string          `json:"nickname"`
	Joined   int64           `json:"joined"`
	Left     int64           `json:"left,omitempty"` // 0 while present
}

// fileInfo is an uploaded file of the chat.
type fileInfo struct {
	Name     string `json:"name"`
	Type     string `json:"type,omitempty"`
	Size     int64  `json:"size"`
	Uploader string `json:"uploader"` // userId
	ByClient bool   `json:"byClient,omitempty"`
}

// chatState is the persisted state document of a chat (KV CHAT_STATE). Maps and slices are
// treated as immutable once stored in a chatState (every change replaces them), so views
// handed to listeners can share them without copying.
//
// The state may lag the transcript: effects that follow from events (participants, last
// activity, idle phase, async status, files) are applied by apply, both live and when the
// chat is re-read from the store, so not every event needs a state write. LastIndex is the
// last event the stored document already includes.
type chatState struct {
	V       int    `json:"v"`
	ID      string `json:"id"`
	Service string `json:"service"`
	Created int64  `json:"created"` // epoch ms
	Subject string `json:"subject,omitempty"`
	Email   string `json:"email,omitempty"`
	// SecureKey is only read, from documents written before KeyHash existed (the key in
	// clear); decodeState moves it to clearKey and the next save drops it.
	SecureKey string `json:"secureKey,omitempty"`
	// KeyHash is the hex SHA-256 of the customer's secureKey: the key itself is never
	// stored (128 random bits, so a plain hash cannot be reversed by search).
	KeyHash string `json:"keyHash,omitempty"`
	// KeyIndexed: the store's key index maps KeyHash to this chat (written when the chat
	// ended, before it leaves memory; see Core.release).
	KeyIndexed bool `json:"keyIndexed,omitempty"`
	// clearKey is the secureKey itself, known only in the process that created the chat (or
	// read from a document of before KeyHash); never stored.
	clearKey  string
	Customer  string            `json:"customer"` // userId of the Client who created the chat
	UserData  map[string]string `json:"userData,omitempty"`
	Async     bool              `json:"async,omitempty"`
	Parts     []participant     `json:"parts"`
	NextPID   int               `json:"nextPid"`
	LastIndex int64             `json:"lastIndex"`
	Owner     string            `json:"owner,omitempty"`
	// TranscriptBytes is the stored JSON size of events 1..LastIndex (Limits).
	TranscriptBytes int64 `json:"transcriptBytes,omitempty"`

	// LastActivity is the last qualifying activity (epoch ms) for idle control.
	LastActivity int64 `json:"lastActivity"`
	// IdlePhase: 0 none, 1 alert sent, 2 second alert sent; PhaseAt is when (epoch ms).
	IdlePhase int   `json:"idlePhase,omitempty"`
	PhaseAt   int64 `json:"phaseAt,omitempty"`

	AsyncStatus int   `json:"asyncStatus,omitempty"`
	CheckAt     int64 `json:"checkAt,omitempty"` // unix seconds, 0 = unset

	Ended   bool  `json:"ended,omitempty"`
	EndedAt int64 `json:"endedAt,omitempty"`

	// Restored: the session was restored by the agent desktop or the workflow (Restore);
	// RestoredAt (epoch ms) and RestoredBy describe the last restoration.
	Restored   bool   `json:"restored,omitempty"`
	RestoredAt int64  `json:"restoredAt,omitempty"`
	RestoredBy string `json:"restoredBy,omitempty"`

	Files         map[string]fileInfo `json:"files,omitempty"`
	UsedUploads   int                 `json:"usedUploads,omitempty"`
	UsedBytes     int64               `json:"usedBytes,omitempty"`
	UsedDownloads int                 `json:"usedDownloads,omitempty"`
}

func (st *chatState) part(userID string) (int, *participant) {
	for i := range st.Parts {
		if st.Parts[i].UserID == userID {
			return i, &st.Parts[i]
		}
	}
	return -1, nil
}

func (st *chatState) present(userID string) *participant {
	if _, p := st.part(userID); p != nil && p.Left == 0 {
		return p
	}
	return nil
}

func (st *chatState) agentPresent() bool {
	for _, p := range st.Parts {
		if p.Left == 0 && p.Type == Agent {
			return true
		}
	}
	return false
}

func (st *chatState) customerPresent() bool { return st.present(st.Customer) != nil }

func (st *chatState) pushEnabled(o *Options) bool {
	return PushEnabled(st.UserData, o.Settings.FlexPushOnJoin)
}

// pushLiveness reports whether the customer's protocol inactivity follows flex-push-timeout
// (with a liveness check) rather than flex-disconnect-timeout: a push-enabled customer, and,
// after a restoration, only with session-restore-push-send=true (async-chat.md §2).
func (st *chatState) pushLiveness(o *Options) bool {
	if st.Restored && !o.Settings.SessionRestorePushSend {
		return false
	}
	return st.pushEnabled(o)
}

// properties returns the interaction properties the core maintains.
func (st *chatState) properties(node string) map[string]string {
	p := map[string]string{
		PropIsOnline:          strconv.FormatBool(!st.Ended),
		PropChatServerAppName: node,
	}
	if st.Async {
		p[PropAsyncStatus] = strconv.Itoa(st.AsyncStatus)
		if st.CheckAt != 0 {
			p[PropAsyncCheckAt] = strconv.FormatInt(st.CheckAt, 10)
		}
	}
	return p
}

// idleNotices is the notice set that counts for this chat.
func (st *chatState) idleNotices(o *Options) NoticeSet {
	if st.Async {
		return o.Settings.AsyncIdleNotices
	}
	return o.InactivityControl.IncludeNotices
}

// apply applies the state effects of a committed event. It is the only place these effects
// are made, so replaying the transcript over an older state document reproduces the state.
func apply(st *chatState, ev *Event, o *Options) {
	if ev.Index > st.LastIndex {
		st.LastIndex = ev.Index
	}
	by := ev.From
	activity := false
	switch ev.Type {
	case EventParticipantJoined:
		if _, p := st.part(by.UserID); p == nil {
			st.Parts = append(slices.Clone(st.Parts), participant{PID: by.ParticipantID, UserID: by.UserID, Type: by.Type, Nickname: by.Nickname, Joined: ev.UTCTime})
		} else if p.Left != 0 { // re-join
			parts := slices.Clone(st.Parts)
			i, _ := st.part(by.UserID)
			parts[i].Left, parts[i].Joined = 0, ev.UTCTime
			st.Parts = parts
		}
		if by.ParticipantID >= st.NextPID {
			st.NextPID = by.ParticipantID + 1
		}
		if by.Type == Agent {
			activity = true
			if st.Async {
				st.AsyncStatus = AsyncProcessing
			}
		}
	case EventParticipantLeft:
		if i, p := st.part(by.UserID); p != nil && p.Left == 0 {
			parts := slices.Clone(st.Parts)
			parts[i].Left = ev.UTCTime
			st.Parts = parts
		}
		if by.Type == Agent {
			activity = true
		}
		if by.UserID == st.Customer && !st.Ended {
			st.Ended, st.EndedAt = true, ev.UTCTime
		}
	case EventNicknameUpdated:
		if i, p := st.part(by.UserID); p != nil {
			parts := slices.Clone(st.Parts)
			parts[i].Nickname = ev.Text
			st.Parts = parts
		}
	case EventFileUploaded:
		id := ev.UserData[KeyFileID]
		size, _ := strconv.ParseInt(ev.UserData[KeyFileSize], 10, 64)
		files := maps.Clone(st.Files)
		if files == nil {
			files = map[string]fileInfo{}
		}
		files[id] = fileInfo{Name: ev.UserData[KeyFileName], Type: ev.UserData[KeyFileType], Size: size, Uploader: by.UserID, ByClient: by.Type == Client}
		st.Files = files
		if by.Type == Client {
			st.UsedUploads++
			st.UsedBytes += size
		}
	case EventFileDeleted:
		id := ev.UserData[KeyFileID]
		if f, ok := st.Files[id]; ok {
			files := maps.Clone(st.Files)
			delete(files, id)
			st.Files = files
			if f.ByClient && o.FileTransfer.DeleteFile {
				st.UsedUploads = max(0, st.UsedUploads-1)
				st.UsedBytes = max(0, st.UsedBytes-f.Size)
			}
		}
	case EventNotice:
		switch ev.UserData[KeyIdleControl] {
		case "alert":
			st.IdlePhase, st.PhaseAt = 1, ev.UTCTime
			if st.Async {
				st.AsyncStatus = AsyncAlerted
				st.CheckAt = asyncCheckAt(st, o)
			}
		case "alert2":
			st.IdlePhase, st.PhaseAt = 2, ev.UTCTime
		}
	}
	if by.Type != External && by.Type != Agent && by.Type != Supervisor && by.Type != Client {
		return
	}
	// Activity is what everyone sees: coaching (INT) and monitoring (VIP) events are not.
	if by.Type != External && ev.Visibility.All() && ev.Type != EventParticipantJoined && ev.Type != EventParticipantLeft && st.idleNotices(o).Counts(ev.Type) {
		activity = true
		if st.Async && by.Type == Client && !st.agentPresent() {
			st.AsyncStatus = AsyncCustomer
		}
	}
	if activity {
		st.LastActivity = ev.UTCTime
		st.IdlePhase, st.PhaseAt = 0, 0
		// Once set (by an alert), GCTI_Chat_AsyncCheckAt follows activity: it stays when the
		// chat would be closed if nothing else happened, plus the margin (the formula of a
		// restoration), so a chat that became active again is not due while it is active.
		if st.Async && st.CheckAt != 0 {
			st.CheckAt = asyncCheckAt(st, o)
		}
		// The alert no longer holds once there is activity; with an agent in the chat it is
		// being processed again.
		if st.Async && st.AsyncStatus == AsyncAlerted && st.agentPresent() {
			st.AsyncStatus = AsyncProcessing
		}
	}
}

// asyncCheckAt is GCTI_Chat_AsyncCheckAt (unix seconds) of an async chat from its state and
// the service's options: when the chat would be closed if nothing else happened, plus
// async-check-at-margin. Alerted: the alert + async-idle-close; otherwise the last activity
// (or restoration) + async-idle-alert + async-idle-close. It is the one formula for the
// alert, activity after it, a restoration and an option change (Core.OptionsChanged), so
// the property always agrees with the chat's timers. It is rounded up to the second: with
// async-check-at-margin 0 the check is never due before the close itself.
func asyncCheckAt(st *chatState, o *Options) int64 {
	s := o.Settings
	var at time.Time
	if st.IdlePhase > 0 {
		at = time.UnixMilli(st.PhaseAt).Add(s.AsyncIdleClose + s.AsyncCheckAtMargin)
	} else {
		at = time.UnixMilli(st.LastActivity).Add(s.AsyncIdleAlert + s.AsyncIdleClose + s.AsyncCheckAtMargin)
	}
	sec := at.Unix()
	if at.After(time.Unix(sec, 0)) {
		sec++
	}
	return sec
}

// ChatView is a read-only snapshot of a chat handed to listeners and returned by
// operations. Its maps and slices are shared: do not modify them.
type ChatView struct {
	ID, Service string
	// Alias names the node that owns the chat (NodeName).
	Alias string
	Async bool
	Ended bool
	// EndedAt is when the chat ended (the customer's leaving); zero while it runs.
	EndedAt time.Time
	// Customer is the userId of the chat's Client.
	Customer        string
	CustomerPresent bool
	// SecureKey is the customer's secret (for push content; never log it). Only the process
	// that created the chat knows it (the store keeps a hash): empty after a restart.
	SecureKey string
	Subject   string
	// Email is the customer's e-mail address given at creation ("" if none).
	Email    string
	UserData map[string]string
	// Participants, present and past, in join order.
	Participants []Participant
	// LastIndex is the transcript's last index (nextPosition = LastIndex+1).
	LastIndex   int64
	AsyncStatus int
	// CheckAt is GCTI_Chat_AsyncCheckAt as unix seconds (0 = unset).
	CheckAt int64
	Created time.Time
	// Restored says the session was restored by the agent desktop or the workflow (Restore);
	// RestoredBy and RestoredAt describe the last restoration (zero values when never).
	Restored   bool
	RestoredBy RestoreBy
	RestoredAt time.Time
}

// Participant describes one participant.
type Participant struct {
	ParticipantID int
	UserID        string
	Type          ParticipantType
	Nickname      string
	Present       bool
}

// NextPosition is the transcriptPosition that returns only later events.
func (v ChatView) NextPosition() int64 { return v.LastIndex + 1 }

// Participant returns the participant with this userId.
func (v ChatView) Participant(userID string) (Participant, bool) {
	for _, p := range v.Participants {
		if p.UserID == userID {
			return p, true
		}
	}
	return Participant{}, false
}

// Properties returns the interaction properties (GCTI_Chat_AsyncStatus, ...CheckAt for
// async chats; IsOnline, ChatServerAppName always).
func (v ChatView) Properties() map[string]string {
	st := chatState{Async: v.Async, AsyncStatus: v.AsyncStatus, CheckAt: v.CheckAt, Ended: v.Ended}
	return st.properties(v.Alias)
}

func (st *chatState) view(alias string) ChatView {
	ps := make([]Participant, len(st.Parts))
	for i, p := range st.Parts {
		ps[i] = Participant{ParticipantID: p.PID, UserID: p.UserID, Type: p.Type, Nickname: p.Nickname, Present: p.Left == 0}
	}
	v := ChatView{
		ID: st.ID, Service: st.Service, Alias: alias, Async: st.Async, Ended: st.Ended,
		Customer: st.Customer, CustomerPresent: st.customerPresent(), SecureKey: st.clearKey,
		Subject: st.Subject, Email: st.Email, UserData: st.UserData, Participants: ps, LastIndex: st.LastIndex,
		AsyncStatus: st.AsyncStatus, CheckAt: st.CheckAt, Created: time.UnixMilli(st.Created),
		Restored: st.Restored, RestoredBy: RestoreBy(st.RestoredBy), RestoredAt: restoredAt(st.RestoredAt),
	}
	if st.EndedAt != 0 {
		v.EndedAt = time.UnixMilli(st.EndedAt)
	}
	return v
}

// PushEnabled reports whether userData makes the customer push-enabled (gms-chat-v2.md
// §3.1, both vocabularies, camelCase and case variants accepted as in §9.8):
// push_notification_deviceid or push_notification_subscription, or — only when
// flex-push-on-join allows it — GCTI_Chat_PushSubscribe=true with GCTI_GMS_PushDeviceId.
// It matches web/pushlink.ParseSubscription's notion of a subscription.
func PushEnabled(ud map[string]string, flexPushOnJoin bool) bool {
	if v, ok := lookupKey(ud, "push_notification_deviceid"); ok && v != "" {
		return true
	}
	if _, ok := lookupKey(ud, "push_notification_subscription"); ok {
		return true
	}
	if !flexPushOnJoin {
		return false
	}
	sub, _ := lookupKey(ud, "GCTI_Chat_PushSubscribe")
	dev, _ := lookupKey(ud, "GCTI_GMS_PushDeviceId")
	b, err := strconv.ParseBool(strings.TrimSpace(sub))
	return err == nil && b && dev != ""
}

// lookupKey finds key exactly, then case-insensitively with or without underscores.
func lookupKey(ud map[string]string, key string) (string, bool) {
	if v, ok := ud[key]; ok {
		return v, true
	}
	flat := strings.ReplaceAll(key, "_", "")
	for k, v := range ud {
		if strings.EqualFold(k, key) || strings.EqualFold(k, flat) {
			return v, true
		}
	}
	return "", false
}

// decodeState decodes a stored state document. A document of before KeyHash carries the
// key in clear: it is hashed, kept in memory only, and migrated reports that the document
// must be rewritten (the next save stores the hash and drops the clear key).
func decodeState(raw []byte) (st chatState, migrated bool, err error) {
	if err := json.Unmarshal(raw, &st); err != nil {
		return chatState{}, false, err
	}
	if st.SecureKey != "" {
		if st.KeyHash == "" {
			st.KeyHash = keyHash(st.SecureKey)
		}
		st.clearKey, st.SecureKey, migrated = st.SecureKey, "", true
	}
	return st, migrated, nil
}

// keyHash is the hex SHA-256 of a secureKey: the stored form, the key of the in-memory and
// stored key indexes.
func keyHash(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}
