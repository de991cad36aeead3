package push

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/sideshow/apns2/token"
)

// RegistryOptions configure how providers are built from credentials.
type RegistryOptions struct {
	Logger *slog.Logger
	// HTTPClient is used by Web Push, FCM (and its token requests) and custom HTTP
	// (default DefaultHTTPClient()).
	HTTPClient *http.Client
	// APNsProductionHost / APNsSandboxHost override Apple's hosts (tests).
	APNsProductionHost, APNsSandboxHost string
	// APNsTLS, when set, is the base TLS config of APNs connections (tests: RootCAs of
	// the fake). Client certificates are added per credential.
	APNsTLS *tls.Config
	// FCMEndpoint overrides https://fcm.googleapis.com (tests).
	FCMEndpoint string
	// WebPushHosts is the allow-list of Web Push endpoint hosts (default
	// DefaultWebPushHosts). Entries starting with "." match subdomains.
	WebPushHosts []string
	// Now is used to check certificate validity (default time.Now).
	Now func() time.Time
}

// Registry holds one live provider per credential and resolves targets to them. Apply
// replaces a provider atomically: sends already running finish on the old one, the next
// send uses the new one. It implements Resolver.
type Registry struct {
	o   RegistryOptions
	log *slog.Logger

	mu        sync.RWMutex
	providers map[CredentialKey]entry

	tokMu  sync.Mutex
	tokens map[string]*token.Token // one APNs provider token per (team, key id, key)
}

// apnsToken returns the one token of a signing key: Apple answers 429
// TooManyProviderTokenUpdates when a key's tokens are refreshed more often than every 20
// minutes, which is what several tokens for one key (two topics, debug and production
// variants) would do.
func (r *Registry) apnsToken(c APNsCredential, key *ecdsa.PrivateKey) *token.Token {
	h := sha256.Sum256(c.AuthKeyP8)
	id := c.TeamID + "/" + c.KeyID + "/" + hex.EncodeToString(h[:8])
	r.tokMu.Lock()
	defer r.tokMu.Unlock()
	if t, ok := r.tokens[id]; ok {
		return t
	}
	t := &token.Token{AuthKey: key, KeyID: c.KeyID, TeamID: c.TeamID}
	r.tokens[id] = t
	return t
}

type entry struct {
	p      Provider
	info   CredentialInfo
	digest string // Credential.materialDigest of what p was built from
	rev    uint64 // Credential.Revision of it (0: not from a store)
}

// older reports whether a value of revision incoming is older than the installed one of
// revision installed. Values without a revision (0: tests, direct use) are never older.
func older(incoming, installed uint64) bool { return incoming != 0 && incoming < installed }

// NewRegistry makes an empty registry.
func NewRegistry(o RegistryOptions) *Registry {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = DefaultHTTPClient()
	}
	if o.WebPushHosts == nil {
		o.WebPushHosts = DefaultWebPushHosts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Registry{o: o, log: o.Logger, providers: make(map[CredentialKey]entry), tokens: make(map[string]*token.Token)}
}

// Build validates c and makes its provider without installing it.
func (r *Registry) Build(c Credential) (Provider, CredentialInfo, error) {
	info, err := c.Validate(r.o.Now())
	if err != nil {
		return nil, info, err
	}
	var p Provider
	switch c.Key.Kind {
	case KindAPNs:
		p, err = newAPNsProvider(*c.APNs, c.Key, APNsOptions{ProductionHost: r.o.APNsProductionHost, SandboxHost: r.o.APNsSandboxHost, TLS: r.o.APNsTLS, Tokens: r.apnsToken})
	case KindFCM:
		p, err = newFCMProvider(*c.FCM, r.o.HTTPClient, r.o.FCMEndpoint)
	case KindWebPush:
		p = newWebPushProvider(*c.WebPush, r.o.HTTPClient, r.o.WebPushHosts)
	case KindHTTP:
		p = newHTTPProvider(*c.HTTP, r.o.HTTPClient)
	default:
		err = fmt.Errorf("push: kind %q: %w", c.Key.Kind, ErrInvalid)
	}
	if err != nil {
		return nil, info, err
	}
	return p, info, nil
}

// Apply validates c and installs its provider, replacing the previous one of the same key
// atomically: a send that already resolved the old provider finishes on it, the next
// Resolve returns the new one (this is what makes a VAPID rotation sign the very next
// push with the new key). Nothing is rebuilt when the material is unchanged, so an
// unchanged APNs key keeps its connection and token. A value older than the installed one
// (c.Revision below it) is ignored: the admin call applies its write at once, and the KV
// watch may still deliver an earlier write after that, which would put an old key back
// until the watch caught up.
func (r *Registry) Apply(c Credential) (CredentialInfo, error) {
	digest := c.materialDigest()
	r.mu.Lock()
	old, had := r.providers[c.Key]
	if had && (older(c.Revision, old.rev) || old.digest == digest) {
		if c.Revision > old.rev {
			old.rev = c.Revision
			r.providers[c.Key] = old
		}
		r.mu.Unlock()
		return old.info, nil
	}
	r.mu.Unlock()
	// Built outside the lock: building may parse keys and certificates.
	p, info, err := r.Build(c)
	if err != nil {
		return info, err
	}
	r.mu.Lock()
	old, had = r.providers[c.Key]
	if had && older(c.Revision, old.rev) { // a newer value was installed meanwhile
		r.mu.Unlock()
		_ = p.Close()
		return old.info, nil
	}
	r.providers[c.Key] = entry{p: p, info: info, digest: digest, rev: c.Revision}
	r.mu.Unlock()
	if had {
		_ = old.p.Close()
	}
	r.log.Info("push credential installed", "key", c.Key.String(), "fingerprint", info.Fingerprint)
	return info, nil
}

// Remove uninstalls the provider of k.
func (r *Registry) Remove(k CredentialKey) {
	r.mu.Lock()
	old, had := r.providers[k]
	delete(r.providers, k)
	r.mu.Unlock()
	if had {
		_ = old.p.Close()
		r.log.Info("push credential removed", "key", k.String())
	}
}

// Resolve finds the provider of t's kind, configuration name and variant. There is no
// fallback from debug to production: an APNs sandbox token sent to production is answered
// BadDeviceToken, which would wrongly mark the device dead.
func (r *Registry) Resolve(t Target) (Provider, error) {
	k := CredentialKey{Kind: t.Kind, Name: t.providerName(), Debug: t.Debug}
	r.mu.RLock()
	e, ok := r.providers[k]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("push: %s: %w", k.String(), ErrNoProvider)
	}
	return e.p, nil
}

// Infos lists the installed credentials (public facts only), sorted by key.
func (r *Registry) Infos() []CredentialInfo {
	r.mu.RLock()
	out := make([]CredentialInfo, 0, len(r.providers))
	for _, e := range r.providers {
		out = append(out, e.info)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b CredentialInfo) int {
		switch {
		case a.Key.String() < b.Key.String():
			return -1
		case a.Key.String() > b.Key.String():
			return 1
		}
		return 0
	})
	return out
}

// Close closes every provider.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.providers {
		_ = e.p.Close()
		delete(r.providers, k)
	}
	return nil
}
