package jetstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// states is the CHAT_STATE bucket: one key per chat, updated with compare-and-set on the
// key's revision so two nodes can never both overwrite the same version.
type states struct{ kv jetstream.KeyValue }

func stateBucketConfig(o Options) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      StateBucket,
		Description: "chatgate chat state: participants, userData, status, deadlines, owner",
		// Only the current value matters; older revisions are not kept.
		History:  1,
		Storage:  jetstream.FileStorage,
		MaxBytes: limit(o.MaxStateBytes),
	}
}

func (s *states) get(ctx context.Context, chatID string) ([]byte, uint64, error) {
	e, err := s.kv.Get(ctx, chatID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("%w: chat %s", ErrNotFound, chatID)
	}
	if err != nil {
		return nil, 0, unavailable("get state", err)
	}
	return e.Value(), e.Revision(), nil
}

// create stores the first version of a chat's state; it fails if the chat exists.
func (s *states) create(ctx context.Context, chatID string, val []byte) (uint64, error) {
	rev, err := s.kv.Create(ctx, chatID, val)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("%w: chat %s already exists", ErrConflict, chatID)
	}
	if err != nil {
		return 0, s.writeErr("create state", err)
	}
	return rev, nil
}

// update replaces the state if its revision is still rev.
func (s *states) update(ctx context.Context, chatID string, val []byte, rev uint64) (uint64, error) {
	n, err := s.kv.Update(ctx, chatID, val, rev)
	if (errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)) && refused(err) == nil {
		return 0, fmt.Errorf("%w: chat %s is no longer at revision %d", ErrConflict, chatID, rev)
	}
	if err != nil {
		return 0, s.writeErr("update state", err)
	}
	return n, nil
}

func (s *states) writeErr(op string, err error) error {
	if errors.Is(err, jetstream.ErrInvalidKey) {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return writeErr(op, err)
}

// remove purges the chat's key (no history is kept).
func (s *states) remove(ctx context.Context, chatID string) error {
	if err := s.kv.Purge(ctx, chatID); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return unavailable("purge state", err)
	}
	return nil
}

// each calls fn for every stored chat state, in no particular order, with one ordered
// consumer over the bucket (no per-key round trips). It stops at fn's first error.
func (s *states) each(ctx context.Context, fn func(chatID string, val []byte, rev uint64) error) error {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return unavailable("list states", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return unavailable("list states", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return unavailable("list states", errors.New("watcher closed"))
			}
			if e == nil { // initial values delivered
				return nil
			}
			if err := fn(e.Key(), e.Value(), e.Revision()); err != nil {
				return err
			}
		}
	}
}
