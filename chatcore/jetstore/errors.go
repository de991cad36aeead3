package jetstore

import (
	"errors"
	"fmt"
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
	// ErrCorrupt: stored data does not have the shape this package writes.
	ErrCorrupt = errors.New("jetstore: corrupt record")
	// ErrUnavailable: the engine did not answer, or answered with an unexpected error. For
	// an append the outcome is unknown: re-read the last index to find out.
	ErrUnavailable = errors.New("jetstore: store unavailable")
)

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}
