package chatcore

import (
	"context"
	"io"

	"github.com/chatgate/chatgate/chatcore/jetstore"
)

// FileMeta describes a stored file (the storage engine's type).
type FileMeta = jetstore.FileMeta

// RawEvent is one stored transcript event: its index and JSON encoding.
type RawEvent = jetstore.RawEvent

// Store is what chatcore needs from its storage engine. *jetstore.Store implements it as
// is; its errors (jetstore.ErrConflict, ErrNotFound, ...) are the contract.
//
// Chat state is one document per chat written with compare-and-set on its revision; the
// transcript is appended after an expected last index so a second writer is refused.
type Store interface {
	CreateChat(ctx context.Context, chatID string, state []byte) (rev uint64, err error)
	LoadChat(ctx context.Context, chatID string) (state []byte, rev uint64, err error)
	SaveChat(ctx context.Context, chatID string, state []byte, rev uint64) (newRev uint64, err error)
	EachChat(ctx context.Context, fn func(chatID string, state []byte, rev uint64) error) error
	DeleteChat(ctx context.Context, chatID string) error

	// The key index: the hex SHA-256 of a chat's secureKey -> the chat id, for chats that
	// are not held in memory (ended ones). Only hashes are stored.
	PutKey(ctx context.Context, keyHash, chatID string) error
	ChatForKey(ctx context.Context, keyHash string) (chatID string, err error)
	DeleteKey(ctx context.Context, keyHash string) error

	AppendJSON(ctx context.Context, chatID string, afterIndex int64, events [][]byte) error
	// EventsPage reads at most maxEvents events and maxBytes bytes of event JSON from index
	// from on (at least one event when there is any), so a read's memory is bounded by
	// the page, never by the transcript.
	EventsPage(ctx context.Context, chatID string, from int64, maxEvents, maxBytes int) ([]RawEvent, error)
	LastIndex(ctx context.Context, chatID string) (int64, error)

	PutFile(ctx context.Context, chatID, fileID string, meta FileMeta, r io.Reader) (FileMeta, error)
	OpenFile(ctx context.Context, chatID, fileID string) (FileMeta, io.ReadCloser, error)
	DeleteFile(ctx context.Context, chatID, fileID string) error
}

var _ Store = (*jetstore.Store)(nil)
