package jetstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// keys is the CHAT_KEYS bucket: key <hex SHA-256 of a chat's secureKey>, value the chat id.
// It lets a chat that is not held in memory (an ended chat) be found from its secureKey
// alone, without storing the key: only its hash is a KV key, and the value names a chat
// whose state holds the same hash. One ~100-byte entry per chat with a state document, so
// it is bounded by the states' quota and needs none of its own.
type keys struct{ kv jetstream.KeyValue }

func keysBucketConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      KeysBucket,
		Description: "chatgate secureKey hash -> chat id (chats not held in memory)",
		History:     1,
		Storage:     jetstream.FileStorage,
	}
}

// checkKeyHash accepts 64 lower-case hex digits (a SHA-256).
func checkKeyHash(h string) error {
	if len(h) != 64 {
		return fmt.Errorf("%w: key hash of length %d", ErrInvalid, len(h))
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("%w: key hash has byte %#x", ErrInvalid, c)
		}
	}
	return nil
}

// PutKey records that the chat's secureKey hashes to keyHash (idempotent).
func (s *Store) PutKey(ctx context.Context, keyHash, chatID string) error {
	if err := checkKeyHash(keyHash); err != nil {
		return err
	}
	if err := checkID("chat", chatID); err != nil {
		return err
	}
	if _, err := s.keys.kv.Put(ctx, keyHash, []byte(chatID)); err != nil {
		return s.count(writeErr("put key", err))
	}
	return nil
}

// ChatForKey returns the chat recorded for keyHash. ErrNotFound if there is none.
func (s *Store) ChatForKey(ctx context.Context, keyHash string) (string, error) {
	if err := checkKeyHash(keyHash); err != nil {
		return "", err
	}
	e, err := s.keys.kv.Get(ctx, keyHash)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", fmt.Errorf("%w: no chat for this key", ErrNotFound)
	}
	if err != nil {
		return "", unavailable("get key", err)
	}
	return string(e.Value()), nil
}

// DeleteKey removes keyHash's entry; a missing entry is not an error.
func (s *Store) DeleteKey(ctx context.Context, keyHash string) error {
	if err := checkKeyHash(keyHash); err != nil {
		return err
	}
	if err := s.keys.kv.Purge(ctx, keyHash); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return unavailable("purge key", err)
	}
	return nil
}
