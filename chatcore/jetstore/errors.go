package jetstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Errors returned by the store, always wrapped with context; test with errors.Is.
var (
	// ErrConflict: another writer got there first — the chat's transcript no longer ends
	// at the expected index, the state is no longer at the expected revision, or a chat
	// being created exists. Nothing was written.
	ErrConflict = errors.New("jetstore: conflict")
	// ErrNotFound: no such chat state or file.
	ErrNotFound = errors.New("jetstore: not found")
	// ErrInvalid: an id that cannot name a subject, key or object, or a bad index.
	ErrInvalid = errors.New("jetstore: invalid argument")
	// ErrTooLarge: one append exceeds the server's maximum message size (1 MiB default).
	ErrTooLarge = errors.New("jetstore: record too large")
	// ErrQuota: the write would pass a quota (Options: the transcripts', states' or files'
	// bytes, a chat's records) or the engine has no storage left for it. Nothing was
	// written; nothing older was discarded to make room.
	ErrQuota = errors.New("jetstore: store quota reached")
	// ErrCorrupt: stored data does not have the shape this package writes.
	ErrCorrupt = errors.New("jetstore: corrupt record")
	// ErrUnavailable: the engine did not answer, or answered with an unexpected error. For
	// an append the outcome is unknown: re-read the last index to find out.
	ErrUnavailable = errors.New("jetstore: store unavailable")
)

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// Server error codes of refused writes (nats-server JSStreamStoreFailedF,
// JSInsufficientResourcesErr, JSStorageResourcesExceededErr).
const (
	codeStoreFailed           = 10077
	codeInsufficientResources = 10023
	codeStorageExceeded       = 10047
)

// refused classifies a write the server refused because of a limit: ErrQuota for a stream's
// or bucket's byte or per-subject limit and for exhausted engine storage, ErrTooLarge for a
// message over the stream's maximum size; nil for any other error.
func refused(err error) error {
	var jerr jetstream.JetStreamError
	if !errors.As(err, &jerr) || jerr.APIError() == nil {
		return nil
	}
	api := jerr.APIError()
	switch api.ErrorCode {
	case codeInsufficientResources, codeStorageExceeded:
		return fmt.Errorf("%w: %w", ErrQuota, err)
	case jetstream.JSErrCodeStreamMessageExceedsMaximum:
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case codeStoreFailed:
		switch d := api.Description; {
		case strings.Contains(d, "message too large"):
			return fmt.Errorf("%w: %w", ErrTooLarge, err)
		case strings.Contains(d, "maximum bytes"), strings.Contains(d, "maximum messages"):
			return fmt.Errorf("%w: %w", ErrQuota, err)
		}
	}
	return nil
}

// writeErr is the error of a failed write: refused (quota, too large), or unavailable.
func writeErr(op string, err error) error {
	if r := refused(err); r != nil {
		return fmt.Errorf("%s: %w", op, r)
	}
	return unavailable(op, err)
}
