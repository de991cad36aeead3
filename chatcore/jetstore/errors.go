package jetstore

import (
	"errors"
	"fmt"
)

var (
	// errTooLarge: a record exceeds the server's maximum message size.
	errTooLarge = errors.New("jetstore: record too large")
	// errCorrupt: stored data does not have the shape this package writes.
	errCorrupt = errors.New("jetstore: corrupt record")
	// errUnavailable: the engine did not answer (or answered with an unexpected error);
	// the operation's outcome may be unknown.
	errUnavailable = errors.New("jetstore: store unavailable")
)

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", errUnavailable, op, err)
}
