package gmschat

import (
	"context"
	"io"
	"net/http"
)

// Backend is what the HTTP and CometD handlers need from the chat core, in wire terms. The
// implementation over *chatcore.Core (backend_chatcore.go, added when package chatcore lands)
// maps each Op to the chatcore call, chatcore events to Event, and chatcore errors to
// *APIError per docs/gms-api.md; an operation on an ended chat returns Ended(chatID), nil.
type Backend interface {
	// CreateChat runs Request Chat; the response carries secureKey.
	CreateChat(ctx context.Context, op Op) (Response, error)
	// Do runs every other customer operation. op.ChatID may be empty (CometD, chat-ntf): the
	// chat is then found from op.SecureKey. Once the credentials are verified the Response
	// carries them (Credentials), on an error too, so the failure answer can.
	Do(ctx context.Context, op Op) (Response, error)
	// Download opens a file of the chat (REST file download, chat-ntf fileDownload).
	Download(ctx context.Context, op Op) (FileMeta, io.ReadCloser, error)
	// Touch records protocol activity of the chat's customer without an event.
	Touch(ctx context.Context, chatID, secureKey string) error
}

// FileMeta describes a downloaded file.
type FileMeta struct {
	Name        string
	ContentType string
	Size        int64
}

// Sessions is what the handlers need from the Bayeux server (bayeux.Server satisfies it through
// a small adapter in adapter.go once package bayeux lands).
type Sessions interface {
	// Deliver pushes data on channel to one session; an error means the session is gone.
	Deliver(ctx context.Context, sessionID, channel string, data any) error
	// Live reports whether the session has a held connect or an open websocket now.
	Live(sessionID string) bool
	// BrowserSessions returns the ids of the Bayeux sessions of the request's BAYEUX_BROWSER
	// cookie; ok is false without the cookie.
	BrowserSessions(r *http.Request) (ids []string, ok bool)
}
