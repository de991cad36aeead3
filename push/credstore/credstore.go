// Package credstore keeps push credentials in a NATS JetStream key-value bucket, encrypted
// with AES-256-GCM, and feeds every change to a push.Registry through a KV watch.
//
// Why KV and a watch: credentials are cluster-wide configuration. An administrator uploads
// a rotated APNs key on one node; every node's watch sees the new revision and swaps its
// provider, so the next push everywhere uses the new key without a restart.
//
// Why encrypt before storing: the JetStream files (and any replica or backup of them) must
// not hold usable private keys. The value is version(1) ‖ nonce(12) ‖ AES-GCM(json), with
// the KV key as additional data so a value copied under another key does not decrypt.
// The encryption key comes from configuration (secrets-key), never from the store.
package credstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/push"
)

// Bucket is the KV bucket name.
const Bucket = "push_credentials"

const version1 = 1

// ErrNotFound is returned for a credential that is not stored.
var ErrNotFound = errors.New("credstore: credential not found")

// ErrDecrypt means a stored value could not be decrypted (wrong secrets-key or tampering).
var ErrDecrypt = errors.New("credstore: cannot decrypt credential")

// KVOpener creates or opens a bucket (internal/natsserver.Conn implements it).
type KVOpener interface {
	KV(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error)
}

// Store reads and writes encrypted credentials.
type Store struct {
	kv   jetstream.KeyValue
	aead cipher.AEAD
	log  *slog.Logger

	decryptFailures atomic.Uint64
}

// Open creates (or opens) the bucket through o and returns a Store using key (32 bytes).
func Open(ctx context.Context, o KVOpener, key []byte, log *slog.Logger) (*Store, error) {
	kv, err := o.KV(ctx, jetstream.KeyValueConfig{Bucket: Bucket, Description: "chatgate push credentials (AES-GCM encrypted)", History: 5, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("credstore: open bucket: %w", err)
	}
	return New(kv, key, log)
}

// New wraps an existing bucket.
func New(kv jetstream.KeyValue, key []byte, log *slog.Logger) (*Store, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("credstore: encryption key must be 32 bytes, got %d", len(key))
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("credstore: %w", err)
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, fmt.Errorf("credstore: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{kv: kv, aead: aead, log: log}, nil
}

// DecryptFailures counts stored values that could not be decrypted.
func (s *Store) DecryptFailures() uint64 { return s.decryptFailures.Load() }

func (s *Store) seal(k string, c push.Credential) ([]byte, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = version1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return s.aead.Seal(out, out[1:], plain, []byte(k)), nil
}

func (s *Store) open(k string, v []byte) (push.Credential, error) {
	var c push.Credential
	ns := s.aead.NonceSize()
	if len(v) < 1+ns || v[0] != version1 {
		return c, fmt.Errorf("%w: %s: unknown format", ErrDecrypt, k)
	}
	plain, err := s.aead.Open(nil, v[1:1+ns], v[1+ns:], []byte(k))
	if err != nil {
		return c, fmt.Errorf("%w: %s", ErrDecrypt, k)
	}
	if err := json.Unmarshal(plain, &c); err != nil {
		return c, fmt.Errorf("%w: %s: %v", ErrDecrypt, k, err)
	}
	return c, nil
}

// Put stores c (validated by the caller) and returns the new revision, which the caller
// sets as c.Revision before applying c itself (push.Registry ignores older values).
func (s *Store) Put(ctx context.Context, c push.Credential) (uint64, error) {
	if err := c.Key.Validate(); err != nil {
		return 0, err
	}
	k := c.Key.String()
	v, err := s.seal(k, c)
	if err != nil {
		return 0, fmt.Errorf("credstore: seal: %w", err)
	}
	rev, err := s.kv.Put(ctx, k, v)
	if err != nil {
		return 0, fmt.Errorf("credstore: put %s: %w", k, err)
	}
	return rev, nil
}

// Get reads one credential.
func (s *Store) Get(ctx context.Context, key push.CredentialKey) (push.Credential, error) {
	e, err := s.kv.Get(ctx, key.String())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return push.Credential{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return push.Credential{}, fmt.Errorf("credstore: get %s: %w", key, err)
	}
	c, err := s.open(e.Key(), e.Value())
	c.Revision = e.Revision()
	return c, err
}

// Delete removes a credential; deleting a missing one is ErrNotFound.
func (s *Store) Delete(ctx context.Context, key push.CredentialKey) error {
	if _, err := s.Get(ctx, key); err != nil && errors.Is(err, ErrNotFound) {
		return err
	}
	if err := s.kv.Delete(ctx, key.String()); err != nil {
		return fmt.Errorf("credstore: delete %s: %w", key, err)
	}
	return nil
}

// List returns every stored credential that decrypts; the others are logged and counted.
func (s *Store) List(ctx context.Context) ([]push.Credential, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("credstore: list: %w", err)
	}
	var out []push.Credential
	for k := range lister.Keys() {
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("credstore: get %s: %w", k, err)
		}
		c, err := s.open(k, e.Value())
		c.Revision = e.Revision()
		if err != nil {
			s.decryptFailures.Add(1)
			s.log.Error("stored push credential unreadable", "key", k, "err", err)
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// Applier receives credential changes (push.Registry implements it).
type Applier interface {
	Apply(c push.Credential) (push.CredentialInfo, error)
	Remove(k push.CredentialKey)
}

// Watch mirrors the bucket into an Applier until Stop.
type Watch struct {
	w    jetstream.KeyWatcher
	done chan struct{}
	once sync.Once
}

// Watch applies every stored credential to a, returns once the initial values are applied
// (or ctx ends), then keeps applying changes from a goroutine owned by the returned Watch.
func (s *Store) Watch(ctx context.Context, a Applier) (*Watch, error) {
	kw, err := s.kv.WatchAll(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("credstore: watch: %w", err)
	}
	w := &Watch{w: kw, done: make(chan struct{})}
	initial := make(chan struct{})
	go w.run(s, a, initial)
	select {
	case <-initial:
		return w, nil
	case <-ctx.Done():
		w.Stop()
		return nil, fmt.Errorf("credstore: initial load: %w", ctx.Err())
	}
}

func (w *Watch) run(s *Store, a Applier, initial chan struct{}) {
	defer close(w.done)
	signalled := false
	for e := range w.w.Updates() {
		if e == nil { // end of the initial values
			if !signalled {
				close(initial)
				signalled = true
			}
			continue
		}
		var key push.CredentialKey
		if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
			c, ok := parseKey(e.Key())
			if ok {
				key = c
				a.Remove(key)
			}
			continue
		}
		c, err := s.open(e.Key(), e.Value())
		if err != nil {
			s.decryptFailures.Add(1)
			s.log.Error("stored push credential unreadable", "key", e.Key(), "err", err)
			continue
		}
		c.Revision = e.Revision()
		if _, err := a.Apply(c); err != nil {
			s.log.Error("stored push credential rejected", "key", e.Key(), "err", err)
		}
	}
	if !signalled {
		close(initial)
	}
}

// Stop ends the watch and waits for its goroutine.
func (w *Watch) Stop() {
	w.once.Do(func() { _ = w.w.Stop() })
	<-w.done
}

// parseKey inverts CredentialKey.String.
func parseKey(s string) (push.CredentialKey, bool) {
	var parts [3]string
	n := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if n == 3 {
				return push.CredentialKey{}, false
			}
			parts[n] = s[start:i]
			n++
			start = i + 1
		}
	}
	if n != 3 || (parts[2] != "debug" && parts[2] != "production") {
		return push.CredentialKey{}, false
	}
	k := push.CredentialKey{Kind: push.Kind(parts[0]), Name: parts[1], Debug: parts[2] == "debug"}
	return k, k.Validate() == nil
}
