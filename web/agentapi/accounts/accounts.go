package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the KV bucket of accounts, API tokens and sessions.
const Bucket = "CHATGATE_ACCOUNTS"

// Key prefixes inside Bucket.
const (
	accountPrefix = "acct."
	tokenPrefix   = "tok."
	sessionPrefix = "ses."
)

// Token prefixes (so a leaked string is recognisable, and the two kinds cannot be confused).
const (
	SessionTokenPrefix = "cgs_"
	APITokenPrefix     = "cgt_"
)

// Role is what an account may do.
type Role string

// Roles.
const (
	RoleAgent      Role = "agent"
	RoleSupervisor Role = "supervisor"
	RoleBot        Role = "bot"
)

func (r Role) valid() bool { return r == RoleAgent || r == RoleSupervisor || r == RoleBot }

// Errors, wrapped with context (%w).
var (
	// ErrNotFound: no such account (or token).
	ErrNotFound = errors.New("accounts: not found")
	// ErrInvalid: a malformed id, role, capacity, queue list or password.
	ErrInvalid = errors.New("accounts: invalid")
	// ErrBadCredentials: wrong id/password, an unknown, expired or revoked token, or a
	// disabled account. One error for all, so callers cannot tell which.
	ErrBadCredentials = errors.New("accounts: bad credentials")
	// ErrUnavailable: the store did not answer.
	ErrUnavailable = errors.New("accounts: store unavailable")
)

// Account is an agent, supervisor or bot as the admin API and the agent API show it. It
// never carries a secret.
type Account struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Role        Role   `json:"role"`
	// Queues are the queues (skills) the account takes chats from; for a bot, the services
	// it may act in.
	Queues []string `json:"queues,omitempty"`
	// Capacity is how many chats the account handles at once (0: the default, 1 for agents).
	Capacity int  `json:"capacity"`
	Disabled bool `json:"disabled,omitempty"`
	// HasPassword says a password is set (logins possible); Tokens lists the API tokens.
	HasPassword bool       `json:"hasPassword"`
	Tokens      []TokenRef `json:"tokens,omitempty"`
	Created     time.Time  `json:"created"`
	Updated     time.Time  `json:"updated"`
}

// TokenRef describes an API token without its secret.
type TokenRef struct {
	ID      string    `json:"id"`
	Label   string    `json:"label,omitempty"`
	Created time.Time `json:"created"`
}

// record is the stored form of an account.
type record struct {
	Account
	Password string `json:"password,omitempty"` // PHC-encoded argon2id hash
	// TokenHashes maps a token id to the hex SHA-256 of the token.
	TokenHashes map[string]string `json:"tokenHashes,omitempty"`
}

// sessionRec is the stored form of a session token (key: ses.<sha256 hex>).
type sessionRec struct {
	Account string    `json:"account"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// tokenRec is the index entry of an API token (key: tok.<sha256 hex>).
type tokenRec struct {
	Account string `json:"account"`
	TokenID string `json:"tokenId"`
}

// KVOpener opens (creating or updating) a KV bucket; *natsserver.Conn implements it.
type KVOpener interface {
	KV(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error)
}

// Config configures a Store.
type Config struct {
	KV KVOpener // required
	// SessionTTL is how long a login's session token is valid (default 12 h).
	SessionTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Hasher sets the argon2id cost; zero is DefaultHasher.
	Hasher Hasher
}

// DefaultSessionTTL is the default lifetime of a session token.
const DefaultSessionTTL = 12 * time.Hour

// Store manages accounts, tokens and sessions in KV.
type Store struct {
	kv  jetstream.KeyValue
	ttl time.Duration
	now func() time.Time
	h   Hasher
	// dummy is a hash checked when the account is unknown, so a login costs the same either
	// way.
	dummy string
}

// Open opens the bucket (creating it on first use).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.KV == nil {
		return nil, errors.New("accounts: Config.KV is required")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Hasher == (Hasher{}) {
		cfg.Hasher = DefaultHasher
	}
	kv, err := cfg.KV.KV(ctx, jetstream.KeyValueConfig{Bucket: Bucket, History: 1, Description: "chatgate agent, supervisor and bot accounts, API tokens, sessions"})
	if err != nil {
		return nil, fmt.Errorf("accounts: open %s: %w: %w", Bucket, ErrUnavailable, err)
	}
	s := &Store{kv: kv, ttl: cfg.SessionTTL, now: cfg.Now, h: cfg.Hasher}
	s.dummy = s.h.Hash(randomToken(""))
	return s, nil
}

// SessionTTL is the lifetime of session tokens.
func (s *Store) SessionTTL() time.Duration { return s.ttl }

// validID: 1–64 of [A-Za-z0-9._-], so an id is a KV key part as is.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Limits on what an account carries.
const (
	MaxDisplayName = 128
	MaxQueues      = 64
	MaxQueueName   = 64
	MaxCapacity    = 100
	MaxPassword    = 1024
	MinPassword    = 8
	MaxTokens      = 16
	MaxLabel       = 128
)

// Spec is what the admin API sets on an account.
type Spec struct {
	DisplayName string   `json:"displayName"`
	Role        Role     `json:"role"`
	Queues      []string `json:"queues,omitempty"`
	Capacity    int      `json:"capacity"`
	Disabled    bool     `json:"disabled,omitempty"`
	// Password, when not empty, sets a new password; empty keeps the current one.
	Password string `json:"password,omitempty"`
}

func (sp *Spec) check() error {
	sp.DisplayName = strings.TrimSpace(sp.DisplayName)
	switch {
	case sp.DisplayName == "" || len(sp.DisplayName) > MaxDisplayName:
		return fmt.Errorf("displayName must have 1-%d bytes: %w", MaxDisplayName, ErrInvalid)
	case !sp.Role.valid():
		return fmt.Errorf("role must be agent, supervisor or bot: %w", ErrInvalid)
	case sp.Capacity < 0 || sp.Capacity > MaxCapacity:
		return fmt.Errorf("capacity must be 0-%d: %w", MaxCapacity, ErrInvalid)
	case len(sp.Queues) > MaxQueues:
		return fmt.Errorf("at most %d queues: %w", MaxQueues, ErrInvalid)
	case sp.Password != "" && (len(sp.Password) < MinPassword || len(sp.Password) > MaxPassword):
		return fmt.Errorf("password must have %d-%d bytes: %w", MinPassword, MaxPassword, ErrInvalid)
	}
	for _, q := range sp.Queues {
		if q == "" || len(q) > MaxQueueName {
			return fmt.Errorf("queue names must have 1-%d bytes: %w", MaxQueueName, ErrInvalid)
		}
	}
	return nil
}

// Put creates or replaces an account. An empty Spec.Password keeps the stored one (a new
// account then has no password: it can only use API tokens until one is set).
func (s *Store) Put(ctx context.Context, id string, sp Spec) (Account, error) {
	if !validID(id) {
		return Account{}, fmt.Errorf("id must be 1-64 of A-Z a-z 0-9 . _ -: %w", ErrInvalid)
	}
	if err := sp.check(); err != nil {
		return Account{}, err
	}
	var hash string
	if sp.Password != "" {
		hash = s.h.Hash(sp.Password) // outside the retry loop: it is the slow part
	}
	for range 8 {
		rec, rev, err := s.load(ctx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Account{}, err
		}
		now := s.now().UTC()
		if rev == 0 {
			rec = record{Account: Account{ID: id, Created: now}}
		}
		rec.DisplayName, rec.Role, rec.Capacity, rec.Disabled = sp.DisplayName, sp.Role, sp.Capacity, sp.Disabled
		rec.Queues = slices.Clone(sp.Queues)
		rec.Updated = now
		if hash != "" {
			rec.Password = hash
		}
		err = s.save(ctx, &rec, rev)
		if errors.Is(err, errRace) {
			continue
		}
		if err != nil {
			return Account{}, err
		}
		return rec.public(), nil
	}
	return Account{}, fmt.Errorf("accounts: put %s: %w: too many concurrent updates", id, ErrUnavailable)
}

var errRace = errors.New("accounts: concurrent update")

func (r *record) public() Account {
	a := r.Account
	a.Queues = slices.Clone(r.Queues)
	a.HasPassword = r.Password != ""
	a.Tokens = slices.Clone(r.Tokens)
	return a
}

// Get returns an account.
func (s *Store) Get(ctx context.Context, id string) (Account, error) {
	if !validID(id) {
		return Account{}, fmt.Errorf("account %.64q: %w", id, ErrNotFound)
	}
	rec, _, err := s.load(ctx, id)
	if err != nil {
		return Account{}, err
	}
	return rec.public(), nil
}

// List returns every account, ordered by id.
func (s *Store) List(ctx context.Context) ([]Account, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, accountPrefix+">")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("accounts: list: %w: %w", ErrUnavailable, err)
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, strings.TrimPrefix(k, accountPrefix))
	}
	slices.Sort(ids)
	out := make([]Account, 0, len(ids))
	for _, id := range ids {
		a, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Delete removes an account; its sessions and API tokens stop working at once.
func (s *Store) Delete(ctx context.Context, id string) error {
	rec, _, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	if err := s.kv.Purge(ctx, accountPrefix+id); err != nil {
		return fmt.Errorf("accounts: delete %s: %w: %w", id, ErrUnavailable, err)
	}
	for _, h := range rec.TokenHashes {
		_ = s.kv.Purge(ctx, tokenPrefix+h) // dangling index entries fail authentication anyway
	}
	return nil
}

// NewToken makes an API token for the account and returns it in clear (the only time it is
// ever shown) with its reference.
func (s *Store) NewToken(ctx context.Context, id, label string) (string, TokenRef, error) {
	if len(label) > MaxLabel {
		return "", TokenRef{}, fmt.Errorf("label over %d bytes: %w", MaxLabel, ErrInvalid)
	}
	tok := randomToken(APITokenPrefix)
	h := hashToken(tok)
	ref := TokenRef{ID: randomHex(8), Label: label, Created: s.now().UTC()}
	for range 8 {
		rec, rev, err := s.load(ctx, id)
		if err != nil {
			return "", TokenRef{}, err
		}
		if len(rec.Tokens) >= MaxTokens {
			return "", TokenRef{}, fmt.Errorf("account %s has %d tokens (limit): %w", id, MaxTokens, ErrInvalid)
		}
		rec.Tokens = append(slices.Clone(rec.Tokens), ref)
		th := make(map[string]string, len(rec.TokenHashes)+1)
		for k, v := range rec.TokenHashes {
			th[k] = v
		}
		th[ref.ID] = h
		rec.TokenHashes = th
		// The index entry first: a token whose account record does not list it is refused,
		// so a crash between the two writes leaves no usable token.
		b, _ := json.Marshal(tokenRec{Account: id, TokenID: ref.ID})
		if _, err := s.kv.Put(ctx, tokenPrefix+h, b); err != nil {
			return "", TokenRef{}, fmt.Errorf("accounts: token index: %w: %w", ErrUnavailable, err)
		}
		err = s.save(ctx, &rec, rev)
		if errors.Is(err, errRace) {
			continue
		}
		if err != nil {
			return "", TokenRef{}, err
		}
		return tok, ref, nil
	}
	return "", TokenRef{}, fmt.Errorf("accounts: token for %s: %w: too many concurrent updates", id, ErrUnavailable)
}

// RevokeToken removes an API token.
func (s *Store) RevokeToken(ctx context.Context, id, tokenID string) error {
	for range 8 {
		rec, rev, err := s.load(ctx, id)
		if err != nil {
			return err
		}
		h, ok := rec.TokenHashes[tokenID]
		if !ok {
			return fmt.Errorf("token %.32q of %s: %w", tokenID, id, ErrNotFound)
		}
		rec.Tokens = slices.DeleteFunc(slices.Clone(rec.Tokens), func(t TokenRef) bool { return t.ID == tokenID })
		th := make(map[string]string, len(rec.TokenHashes))
		for k, v := range rec.TokenHashes {
			if k != tokenID {
				th[k] = v
			}
		}
		rec.TokenHashes = th
		err = s.save(ctx, &rec, rev)
		if errors.Is(err, errRace) {
			continue
		}
		if err != nil {
			return err
		}
		_ = s.kv.Purge(ctx, tokenPrefix+h)
		return nil
	}
	return fmt.Errorf("accounts: revoke for %s: %w: too many concurrent updates", id, ErrUnavailable)
}

// Login checks a password and opens a session: the token (shown once) and its expiry.
func (s *Store) Login(ctx context.Context, id, password string) (string, time.Time, Account, error) {
	var rec record
	var err error
	if validID(id) {
		rec, _, err = s.load(ctx, id)
	} else {
		err = ErrNotFound
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", time.Time{}, Account{}, err
	}
	stored := rec.Password
	if err != nil || stored == "" {
		stored = s.dummy
	}
	ok := len(password) <= MaxPassword && s.h.Verify(stored, password)
	if err != nil || rec.Password == "" || rec.Disabled || !ok {
		return "", time.Time{}, Account{}, ErrBadCredentials
	}
	tok := randomToken(SessionTokenPrefix)
	now := s.now().UTC()
	exp := now.Add(s.ttl)
	b, _ := json.Marshal(sessionRec{Account: id, Created: now, Expires: exp})
	if _, err := s.kv.Put(ctx, sessionPrefix+hashToken(tok), b); err != nil {
		return "", time.Time{}, Account{}, fmt.Errorf("accounts: session: %w: %w", ErrUnavailable, err)
	}
	return tok, exp, rec.public(), nil
}

// Logout revokes a session token. Unknown tokens are not an error (logging out twice is
// fine).
func (s *Store) Logout(ctx context.Context, token string) error {
	if !strings.HasPrefix(token, SessionTokenPrefix) {
		return ErrBadCredentials
	}
	if err := s.kv.Purge(ctx, sessionPrefix+hashToken(token)); err != nil {
		return fmt.Errorf("accounts: logout: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// Principal is an authenticated caller.
type Principal struct {
	Account Account
	// Session is true for a login session, false for an API token.
	Session bool
	// Expires is the session's expiry (zero for API tokens).
	Expires time.Time
}

// Authenticate resolves a session or API token. Every failure is ErrBadCredentials except
// a store that does not answer (ErrUnavailable).
func (s *Store) Authenticate(ctx context.Context, token string) (Principal, error) {
	switch {
	case strings.HasPrefix(token, SessionTokenPrefix):
		e, err := s.kv.Get(ctx, sessionPrefix+hashToken(token))
		if err != nil {
			return Principal{}, kvErr(err, ErrBadCredentials)
		}
		var sr sessionRec
		if json.Unmarshal(e.Value(), &sr) != nil {
			return Principal{}, ErrBadCredentials
		}
		if !s.now().Before(sr.Expires) {
			_ = s.kv.Purge(ctx, e.Key())
			return Principal{}, ErrBadCredentials
		}
		rec, _, err := s.load(ctx, sr.Account)
		if err != nil {
			return Principal{}, kvErr(err, ErrBadCredentials)
		}
		if rec.Disabled {
			return Principal{}, ErrBadCredentials
		}
		return Principal{Account: rec.public(), Session: true, Expires: sr.Expires}, nil
	case strings.HasPrefix(token, APITokenPrefix):
		h := hashToken(token)
		e, err := s.kv.Get(ctx, tokenPrefix+h)
		if err != nil {
			return Principal{}, kvErr(err, ErrBadCredentials)
		}
		var tr tokenRec
		if json.Unmarshal(e.Value(), &tr) != nil {
			return Principal{}, ErrBadCredentials
		}
		rec, _, err := s.load(ctx, tr.Account)
		if err != nil {
			return Principal{}, kvErr(err, ErrBadCredentials)
		}
		if rec.Disabled || rec.TokenHashes[tr.TokenID] != h {
			return Principal{}, ErrBadCredentials
		}
		return Principal{Account: rec.public()}, nil
	}
	return Principal{}, ErrBadCredentials
}

func kvErr(err, notFound error) error {
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, ErrNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return notFound
	}
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func (s *Store) load(ctx context.Context, id string) (record, uint64, error) {
	e, err := s.kv.Get(ctx, accountPrefix+id)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return record{}, 0, fmt.Errorf("account %.64q: %w", id, ErrNotFound)
		}
		return record{}, 0, fmt.Errorf("accounts: read %s: %w: %w", id, ErrUnavailable, err)
	}
	var rec record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return record{}, 0, fmt.Errorf("accounts: decode %s: %w: %w", id, ErrUnavailable, err)
	}
	return rec, e.Revision(), nil
}

// save writes rec with compare-and-set (rev 0: create). errRace when another writer won.
func (s *Store) save(ctx context.Context, rec *record, rev uint64) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("accounts: encode: %w", err)
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, accountPrefix+rec.ID, b)
	} else {
		_, err = s.kv.Update(ctx, accountPrefix+rec.ID, b, rev)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyExists), isWrongSequence(err):
		return errRace
	default:
		return fmt.Errorf("accounts: write %s: %w: %w", rec.ID, ErrUnavailable, err)
	}
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func randomToken(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}
