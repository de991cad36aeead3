package responses

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the KV bucket of standard responses.
const Bucket = "CHATGATE_RESPONSES"

// Key prefixes inside Bucket.
const (
	responsePrefix = "r." // r.<id> → Response JSON
	shortcutPrefix = "s." // s.<shortcut without the slash> → response id
)

// Limits (docs/operations.md, "Limits and abuse").
const (
	MaxName      = 100  // bytes of a name
	MaxText      = 4096 // bytes of a response's text
	MaxShortcut  = 32   // characters of a shortcut after the slash
	MaxScope     = 50   // services, and queues, in one response's scope
	MaxScopeName = 64   // bytes of one service or queue name
	MaxResponses = 1000 // responses in the bucket
)

// Errors, wrapped with context (%w).
var (
	// ErrNotFound: no response with that id.
	ErrNotFound = errors.New("responses: not found")
	// ErrInvalid: a field breaks a rule; the message says which.
	ErrInvalid = errors.New("responses: invalid")
	// ErrConflict: the shortcut is taken by another response, or the bucket is full.
	ErrConflict = errors.New("responses: conflict")
	// ErrUnavailable: the store did not answer.
	ErrUnavailable = errors.New("responses: store unavailable")
)

// Response is a standard response.
type Response struct {
	ID string `json:"id"`
	Spec
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Spec is what an admin sets.
type Spec struct {
	Name string `json:"name"`
	// Shortcut, when set, is "/" and 1–MaxShortcut of a-z 0-9 _ - (e.g. "/greet"): the agent
	// types it in the composer and Tab or Enter puts Text in its place.
	Shortcut string `json:"shortcut,omitempty"`
	Text     string `json:"text"`
	// Services and Queues scope the response: empty both, every agent sees it; otherwise an
	// agent sees it when it takes chats of one of the services or queues.
	Services []string `json:"services,omitempty"`
	Queues   []string `json:"queues,omitempty"`
}

// Normalize trims the fields an admin types (name, shortcut, scope names; never the text,
// whose spaces and line breaks are what the agent sends), lower-cases the shortcut and
// drops empty and repeated scope names.
func (s Spec) Normalize() Spec {
	s.Name = strings.TrimSpace(s.Name)
	s.Shortcut = strings.ToLower(strings.TrimSpace(s.Shortcut))
	s.Services = cleanList(s.Services)
	s.Queues = cleanList(s.Queues)
	return s
}

func cleanList(in []string) []string {
	var out []string
	for _, v := range in {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Validate reports the first rule a normalized Spec breaks (wrapping ErrInvalid), nil if
// none.
func (s Spec) Validate() error {
	switch {
	case s.Name == "":
		return fmt.Errorf("name is required: %w", ErrInvalid)
	case len(s.Name) > MaxName:
		return fmt.Errorf("name is longer than %d bytes: %w", MaxName, ErrInvalid)
	case !printable(s.Name, false):
		return fmt.Errorf("name must be valid UTF-8 without control characters: %w", ErrInvalid)
	case strings.TrimSpace(s.Text) == "":
		return fmt.Errorf("text is required: %w", ErrInvalid)
	case len(s.Text) > MaxText:
		return fmt.Errorf("text is longer than %d bytes (%d): %w", MaxText, len(s.Text), ErrInvalid)
	case !printable(s.Text, true):
		return fmt.Errorf("text must be valid UTF-8 without control characters other than line breaks and tabs: %w", ErrInvalid)
	case s.Shortcut != "" && !validShortcut(s.Shortcut):
		return fmt.Errorf("shortcut %.40q must be / followed by 1 to %d of a-z 0-9 _ - (e.g. /greet): %w", s.Shortcut, MaxShortcut, ErrInvalid)
	case len(s.Services) > MaxScope:
		return fmt.Errorf("more than %d services: %w", MaxScope, ErrInvalid)
	case len(s.Queues) > MaxScope:
		return fmt.Errorf("more than %d queues: %w", MaxScope, ErrInvalid)
	}
	for _, n := range append(slices.Clone(s.Services), s.Queues...) {
		if len(n) > MaxScopeName || !printable(n, false) {
			return fmt.Errorf("service or queue name %.40q must be at most %d bytes without control characters: %w", n, MaxScopeName, ErrInvalid)
		}
	}
	return nil
}

// printable: valid UTF-8 without control characters (multiline allows \n, \r and \t).
func printable(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func validShortcut(s string) bool {
	if len(s) < 2 || len(s) > MaxShortcut+1 || s[0] != '/' {
		return false
	}
	for _, c := range s[1:] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validID: the ids this package makes (32 hex digits), so an id from a URL is a KV key part
// as is.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// KVOpener opens (creating or updating) a KV bucket; *natsserver.Conn implements it.
type KVOpener interface {
	KV(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error)
}

// Config configures a Store.
type Config struct {
	KV KVOpener // required
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Store keeps the responses in KV.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// Open opens the bucket (creating it on first use).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.KV == nil {
		return nil, errors.New("responses: Config.KV is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	kv, err := cfg.KV.KV(ctx, jetstream.KeyValueConfig{Bucket: Bucket, History: 1, Description: "chatgate standard responses"})
	if err != nil {
		return nil, fmt.Errorf("responses: open %s: %w: %w", Bucket, ErrUnavailable, err)
	}
	return &Store{kv: kv, now: cfg.Now}, nil
}

func unavailable(what string, err error) error {
	return fmt.Errorf("responses: %s: %w: %w", what, ErrUnavailable, err)
}

// List returns every response, by name (then id).
func (s *Store) List(ctx context.Context) ([]Response, error) {
	w, err := s.kv.WatchFiltered(ctx, []string{responsePrefix + "*"}, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, unavailable("list", err)
	}
	defer func() { _ = w.Stop() }()
	out := []Response{}
	for {
		select {
		case <-ctx.Done():
			return nil, unavailable("list", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, unavailable("list", errors.New("watch closed"))
			}
			if e == nil { // the current values are all delivered
				slices.SortFunc(out, func(a, b Response) int {
					if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
						return c
					}
					return strings.Compare(a.ID, b.ID)
				})
				return out, nil
			}
			var r Response
			if json.Unmarshal(e.Value(), &r) == nil {
				out = append(out, r)
			}
		}
	}
}

// Get returns one response.
func (s *Store) Get(ctx context.Context, id string) (Response, error) {
	r, _, err := s.get(ctx, id)
	return r, err
}

func (s *Store) get(ctx context.Context, id string) (Response, uint64, error) {
	if !validID(id) {
		return Response{}, 0, fmt.Errorf("response %.40q: %w", id, ErrNotFound)
	}
	e, err := s.kv.Get(ctx, responsePrefix+id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Response{}, 0, fmt.Errorf("response %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Response{}, 0, unavailable("get", err)
	}
	var r Response
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Response{}, 0, unavailable("decode", err)
	}
	return r, e.Revision(), nil
}

// Create validates sp and stores it as a new response.
func (s *Store) Create(ctx context.Context, sp Spec) (Response, error) {
	sp = sp.Normalize()
	if err := sp.Validate(); err != nil {
		return Response{}, err
	}
	n, err := s.count(ctx)
	if err != nil {
		return Response{}, err
	}
	if n >= MaxResponses {
		return Response{}, fmt.Errorf("there are already %d standard responses (the most): %w", MaxResponses, ErrConflict)
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	now := s.now().UTC()
	r := Response{ID: hex.EncodeToString(b), Spec: sp, Created: now, Updated: now}
	if err := s.claim(ctx, sp.Shortcut, r.ID); err != nil {
		return Response{}, err
	}
	raw, _ := json.Marshal(r)
	if _, err := s.kv.Create(ctx, responsePrefix+r.ID, raw); err != nil {
		s.release(ctx, sp.Shortcut, r.ID)
		return Response{}, unavailable("create", err)
	}
	return r, nil
}

// Update validates sp and replaces response id with it.
func (s *Store) Update(ctx context.Context, id string, sp Spec) (Response, error) {
	sp = sp.Normalize()
	if err := sp.Validate(); err != nil {
		return Response{}, err
	}
	old, rev, err := s.get(ctx, id)
	if err != nil {
		return Response{}, err
	}
	if sp.Shortcut != old.Shortcut {
		if err := s.claim(ctx, sp.Shortcut, id); err != nil {
			return Response{}, err
		}
	}
	r := Response{ID: id, Spec: sp, Created: old.Created, Updated: s.now().UTC()}
	raw, _ := json.Marshal(r)
	if _, err := s.kv.Update(ctx, responsePrefix+id, raw, rev); err != nil {
		if sp.Shortcut != old.Shortcut {
			s.release(ctx, sp.Shortcut, id)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			return Response{}, fmt.Errorf("response %s changed meanwhile, read it again: %w", id, ErrConflict)
		}
		return Response{}, unavailable("update", err)
	}
	if old.Shortcut != sp.Shortcut {
		s.release(ctx, old.Shortcut, id)
	}
	return r, nil
}

// Delete removes response id (and frees its shortcut).
func (s *Store) Delete(ctx context.Context, id string) error {
	old, _, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, responsePrefix+id); err != nil {
		return unavailable("delete", err)
	}
	s.release(ctx, old.Shortcut, id)
	return nil
}

func (s *Store) count(ctx context.Context) (int, error) {
	l, err := s.kv.ListKeysFiltered(ctx, responsePrefix+"*")
	if err != nil {
		return 0, unavailable("count", err)
	}
	n := 0
	for range l.Keys() {
		n++
	}
	return n, nil
}

// claim takes shortcut for response id: Create of its key, or, when the key names a
// response that no longer carries the shortcut (left behind by a crash between two
// writes), an Update on the key's revision. Empty shortcuts claim nothing.
func (s *Store) claim(ctx context.Context, shortcut, id string) error {
	if shortcut == "" {
		return nil
	}
	key := shortcutPrefix + shortcut[1:]
	for range 3 {
		_, err := s.kv.Create(ctx, key, []byte(id))
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return unavailable("claim shortcut", err)
		}
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released meanwhile: try Create again
		}
		if err != nil {
			return unavailable("claim shortcut", err)
		}
		holder := string(e.Value())
		if holder == id {
			return nil
		}
		r, _, err := s.get(ctx, holder)
		switch {
		case err == nil && r.Shortcut == shortcut:
			return fmt.Errorf("shortcut %s is already used by %q: %w", shortcut, r.Name, ErrConflict)
		case err != nil && !errors.Is(err, ErrNotFound):
			return err
		}
		if _, err := s.kv.Update(ctx, key, []byte(id), e.Revision()); err == nil {
			return nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return unavailable("claim shortcut", err)
		}
	}
	return fmt.Errorf("shortcut %s is being changed by another request, retry: %w", shortcut, ErrConflict)
}

// release frees shortcut if response id holds it. Best effort: a key left behind is taken
// over by the next claim (see claim).
func (s *Store) release(ctx context.Context, shortcut, id string) {
	if shortcut == "" {
		return
	}
	key := shortcutPrefix + shortcut[1:]
	e, err := s.kv.Get(ctx, key)
	if err != nil || string(e.Value()) != id {
		return
	}
	_ = s.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
}
