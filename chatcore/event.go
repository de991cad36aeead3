package chatcore

// EventType is a transcript event type (gms-chat-v2.md §1.5).
type EventType string

// Event types.
const (
	EventParticipantJoined EventType = "ParticipantJoined"
	EventParticipantLeft   EventType = "ParticipantLeft"
	EventMessage           EventType = "Message"
	EventTypingStarted     EventType = "TypingStarted"
	EventTypingStopped     EventType = "TypingStopped"
	EventNicknameUpdated   EventType = "NicknameUpdated"
	EventPushURL           EventType = "PushUrl"
	EventFileUploaded      EventType = "FileUploaded"
	EventFileDeleted       EventType = "FileDeleted"
	EventCustomNotice      EventType = "CustomNotice"
	EventNotice            EventType = "Notice"
)

// ParticipantType is the kind of a participant (from.type).
type ParticipantType string

// Participant types. External participants are bots and system parties: what they do never
// counts as activity for inactivity control.
const (
	Client     ParticipantType = "Client"
	Agent      ParticipantType = "Agent"
	Supervisor ParticipantType = "Supervisor"
	External   ParticipantType = "External"
)

func (t ParticipantType) valid() bool {
	return t == Client || t == Agent || t == Supervisor || t == External
}

// QuitReason is a participant's quit reason code (gms-chat-v2.md §4.5). ParticipantLeft
// events carry it as userData["quit-reason-code"].
type QuitReason int

// Quit reason codes.
const (
	QuitLogout             QuitReason = 0 // the participant left (disconnect request)
	QuitProtocolInactivity QuitReason = 3 // flex-disconnect-timeout / flex-push-timeout
	QuitRemovedByOther     QuitReason = 4 // removed by another participant
	QuitRemovedByServer    QuitReason = 5 // removed by the server (workflow, error)
	QuitSessionInactivity  QuitReason = 7 // regular or async idle control closed the chat
	QuitRestoration        QuitReason = 8 // marked removed during restoration
)

// Name is the reason's stable name, as metrics labels and reports show it:
// customer_left, protocol_inactivity, ended_by_participant, ended_by_server,
// session_inactivity, restoration, or unknown for any other code.
func (q QuitReason) Name() string {
	switch q {
	case QuitLogout:
		return "customer_left"
	case QuitProtocolInactivity:
		return "protocol_inactivity"
	case QuitRemovedByOther:
		return "ended_by_participant"
	case QuitRemovedByServer:
		return "ended_by_server"
	case QuitSessionInactivity:
		return "session_inactivity"
	case QuitRestoration:
		return "restoration"
	}
	return "unknown"
}

// Well-known userData keys of events.
const (
	KeyQuitReason      = "quit-reason-code"
	KeyIdleControl     = "idle-control" // "alert", "alert2", "close" on idle Notices
	KeyFileID          = "file-id"
	KeyFileName        = "file-name"
	KeyFileSize        = "file-size"
	KeyFileType        = "file-type"
	KeyFileDescription = "file-description"
)

// Interaction properties maintained by the core (gms-chat-v2.md §5).
const (
	PropAsyncMode         = "GCTI_Chat_AsyncMode"
	PropAsyncStatus       = "GCTI_Chat_AsyncStatus"
	PropAsyncCheckAt      = "GCTI_Chat_AsyncCheckAt"
	PropIsOnline          = "IsOnline"
	PropChatServerAppName = "ChatServerAppName"
)

// Async status values (async-chat.md §4).
const (
	AsyncOnHold     = -2
	AsyncProcessing = -1
	AsyncCreated    = 1
	AsyncCustomer   = 2
	AsyncAlerted    = 3
	AsyncAgentLost  = 4 // an agent desktop disconnected abnormally (AgentLost)
	AsyncQueued     = 5 // the agent placed the chat into a queue (ReleaseToQueue)
)

// From is the sender of an event.
type From struct {
	Nickname      string          `json:"nickname"`
	ParticipantID int             `json:"participantId"`
	Type          ParticipantType `json:"type"`
	// UserID is the participant's userId (not part of the GMS wire event).
	UserID string `json:"userId,omitempty"`
}

// Event is one committed transcript event. Index is 1-based and gapless per chat; UTCTime
// is epoch milliseconds.
type Event struct {
	Index       int64             `json:"index"`
	Type        EventType         `json:"type"`
	UTCTime     int64             `json:"utcTime"`
	From        From              `json:"from"`
	Text        string            `json:"text,omitempty"`
	MessageType string            `json:"messageType,omitempty"`
	UserData    map[string]string `json:"userData,omitempty"`
	// Visibility says who may see the event (agent_ops.go); empty is VisibilityAll.
	Visibility Visibility `json:"visibility,omitempty"`
}
