package gmschat

import (
	"encoding/json"
	"net/http"
)

// Response is the common response object of every Chat V2 request (gms-chat-v2.md §1.4), over
// REST and in every CometD push on /service/chatV2/{serviceName}.
//
// Presence rules (chatgate's, documented in docs/gms-api.md): statusCode is always present,
// on REST error bodies too. Every answer to the session's own party carries its
// credentials — chatId, userId, secureKey, alias (§9.4: the Genesys widget rewrites its stored
// keys from each answer, so a missing secureKey would blank them) — except a failure before
// the credentials were verified, which carries none. On success (0) chatEnded, nextPosition
// and messages (possibly []) are always present; userData only on file-upload answers. On
// statusCode 1 or 2: chatEnded, errors (unless the chat has ended) and the credentials when
// known.
type Response struct {
	StatusCode   StatusCode        `json:"statusCode"`
	ChatID       string            `json:"chatId,omitempty"`
	UserID       string            `json:"userId,omitempty"`
	SecureKey    string            `json:"secureKey,omitempty"`
	Alias        string            `json:"alias,omitempty"`
	ChatEnded    bool              `json:"chatEnded"`
	NextPosition *int64            `json:"nextPosition,omitempty"`
	Messages     []Event           `json:"messages,omitempty"`
	UserData     map[string]string `json:"userData,omitempty"`
	// Errors is only set on CometD pushes that answer a failed operation (REST answers
	// failures with an HTTP status and ErrorBody instead).
	Errors []ErrorItem `json:"errors,omitempty"`
	// More says Messages is one page of a longer read: the transcript already holds events
	// from NextPosition on (the client continues with refresh from there). Not on the wire.
	More bool `json:"-"`
	// emptyMessages forces "messages":[] on success responses without events.
	emptyMessages bool
}

// OK builds a success response. messages may be empty; it is then encoded as [].
func OK(chatID, userID, alias string, chatEnded bool, nextPosition int64, messages []Event) Response {
	np := nextPosition
	return Response{
		StatusCode: StatusOK, ChatID: chatID, UserID: userID, Alias: alias,
		ChatEnded: chatEnded, NextPosition: &np, Messages: messages, emptyMessages: len(messages) == 0,
	}
}

// Credentials are the fields of the common response object that identify the session's own
// party (§1.4, §9.4).
type Credentials struct {
	ChatID, UserID, SecureKey, Alias string
}

// Credentials returns the credential fields of r.
func (r Response) Credentials() Credentials {
	return Credentials{ChatID: r.ChatID, UserID: r.UserID, SecureKey: r.SecureKey, Alias: r.Alias}
}

// WithCredentials returns r carrying c (no change when c is empty: nothing was verified).
func (r Response) WithCredentials(c Credentials) Response {
	if c.ChatID == "" {
		return r
	}
	r.ChatID, r.UserID, r.SecureKey, r.Alias = c.ChatID, c.UserID, c.SecureKey, c.Alias
	return r
}

// Ended builds the statusCode-2 answer to an operation on a chat that has ended (§9.1: HTTP 200,
// statusCode 2, chatEnded true).
func Ended(chatID string) Response {
	return Response{StatusCode: StatusFatal, ChatID: chatID, ChatEnded: true}
}

// Failure is the answer to a failed operation, the REST error body and the CometD push alike:
// statusCode 1 when a retry may succeed (codes 500, 600, 601), else 2, plus the GMS errors
// array. chatID may be "".
func Failure(err error, chatID string) Response {
	ae := AsAPIError(err)
	sc := StatusFatal
	if ae.Code.Retryable() {
		sc = StatusTransient
	}
	return Response{StatusCode: sc, ChatID: chatID, Errors: []ErrorItem{{Code: ae.Code, Advice: ae.Advice}}}
}

// MarshalJSON keeps messages present as [] on success so clients that require the array find it.
func (r Response) MarshalJSON() ([]byte, error) {
	type plain Response
	if r.emptyMessages && len(r.Messages) == 0 {
		return json.Marshal(struct {
			plain
			Messages []Event `json:"messages"`
		}{plain: plain(r), Messages: []Event{}})
	}
	return json.Marshal(plain(r))
}

// Event is one transcript event (§1.5), the element of Response.Messages.
type Event struct {
	From        From              `json:"from"`
	Index       int64             `json:"index"`
	Type        string            `json:"type"`
	UTCTime     int64             `json:"utcTime"` // epoch milliseconds
	Text        string            `json:"text,omitempty"`
	MessageType string            `json:"messageType,omitempty"`
	UserData    map[string]string `json:"userData,omitempty"`
}

// From is the sender of an Event. ParticipantID is a small integer in Chat V2 (1 = the first
// client).
type From struct {
	Nickname      string `json:"nickname"`
	ParticipantID int    `json:"participantId"`
	Type          string `json:"type"`
}

// WriteJSON answers v with HTTP 200 as JSON.
func WriteJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		WriteError(w, wrapErr(CodeInternal, "internal error", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
