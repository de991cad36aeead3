package chatcore

import (
	"errors"
	"fmt"

	"github.com/chatgate/chatgate/chatcore/jetstore"
)

// Errors returned by Core, always wrapped with context (%w); test with errors.Is. An
// operation that fails with any of them committed nothing, except where noted.
var (
	// ErrChatNotFound: no such chat on this node (also for a malformed chat id).
	ErrChatNotFound = errors.New("chatcore: chat not found")
	// ErrBadSecureKey: the secureKey (or the userId / alias sent with it) does not match.
	// Callers answer it exactly like ErrChatNotFound so chat ids cannot be probed.
	ErrBadSecureKey = errors.New("chatcore: wrong credentials")
	// ErrChatEnded: the chat has ended; nothing can be added to it (its transcript can
	// still be read).
	ErrChatEnded = errors.New("chatcore: chat ended")
	// ErrNotParticipant: the user is not (or no longer) a participant of the chat.
	ErrNotParticipant = errors.New("chatcore: not a participant")
	// ErrInvalid: a missing or malformed argument (empty message, bad participant type, ...).
	ErrInvalid = errors.New("chatcore: invalid argument")
	// ErrTooLarge: a message, nickname, notice or userData value over Limits, or a file
	// over upload-max-file-size.
	ErrTooLarge = errors.New("chatcore: too large")
	// ErrFileType: the file's extension is not in upload-file-types.
	ErrFileType = errors.New("chatcore: file type not allowed")
	// ErrFileLimit: upload-max-files, upload-max-total-size or download-attempts used up,
	// or uploads need an agent present (upload-need-agent).
	ErrFileLimit = errors.New("chatcore: file limit reached")
	// ErrFileNotFound: no such file in this chat.
	ErrFileNotFound = errors.New("chatcore: file not found")
	// ErrConflict: another writer changed the chat (a second node believing it owns it).
	// The chat is reloaded from the store before its next operation; retrying may succeed.
	ErrConflict = errors.New("chatcore: concurrent update")
	// ErrUnavailable: the store did not answer. For an operation that appends events the
	// outcome is unknown; the chat is re-read from the store before its next operation.
	ErrUnavailable = errors.New("chatcore: store unavailable")
	// ErrRestoreNotAllowed: session-restore-extend-by does not let this party (agent
	// desktop or workflow) restore the chat's session.
	ErrRestoreNotAllowed = errors.New("chatcore: session restoration not allowed")
	// ErrTranscriptFull: the chat's transcript reached Limits.MaxEvents or
	// MaxTranscriptBytes; the chat can still be read, left and ended.
	ErrTranscriptFull = errors.New("chatcore: transcript limit reached")
	// ErrRateLimited: the participant adds events to this chat faster than
	// Limits.EventRate allows; retrying later may succeed.
	ErrRateLimited = errors.New("chatcore: too many events, slow down")
	// ErrQuota: the store refused the write because a store quota (or the engine's
	// storage) is full. An operator must make room (purge ended chats, raise the quota).
	ErrQuota = errors.New("chatcore: store quota reached")
	// ErrClosed: the Core is closed.
	ErrClosed = errors.New("chatcore: closed")
)

// storeErr maps a store error onto chatcore's sentinels, keeping the store's error too.
func storeErr(op string, err error) error {
	switch {
	case errors.Is(err, jetstore.ErrConflict):
		return fmt.Errorf("%s: %w: %w", op, ErrConflict, err)
	case errors.Is(err, jetstore.ErrNotFound):
		return fmt.Errorf("%s: %w: %w", op, ErrChatNotFound, err)
	case errors.Is(err, jetstore.ErrQuota):
		return fmt.Errorf("%s: %w: %w", op, ErrQuota, err)
	case errors.Is(err, jetstore.ErrTooLarge):
		return fmt.Errorf("%s: %w: %w", op, ErrTooLarge, err)
	case errors.Is(err, jetstore.ErrInvalid):
		return fmt.Errorf("%s: %w: %w", op, ErrInvalid, err)
	default:
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
}
