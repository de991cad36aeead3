package adminauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/chatgate/chatgate/web/apijson"
	"github.com/chatgate/chatgate/web/cookieauth"
)

// Credentials are the accepted secrets. Only hashes are kept.
type Credentials struct {
	tokenHash [32]byte
	hasToken  bool
	basicHash [32]byte
	hasBasic  bool
	sessions  *Sessions
	audit     Auditor
	logger    *slog.Logger
}

// ErrNoCredentials is returned by New when neither a token nor Basic credentials are given.
var ErrNoCredentials = errors.New("adminauth: a bearer token or basic credentials are required")

// Auditor records the admin requests Require lets through (web/audit implements it): it
// serves the request with next and keeps who did what with which result.
type Auditor interface {
	Audit(w http.ResponseWriter, r *http.Request, actor Actor, next http.Handler)
}

// Actor says who an admin request is from (never a secret).
type Actor struct {
	// ID is "admin": chatgate has one admin identity, its token or Basic credentials.
	ID string `json:"id"`
	// Via is how the request authenticated: "token", "basic" or "console" (the admin
	// console's session cookie).
	Via string `json:"via"`
	// Session is a short, non-secret reference of the console session ("" otherwise).
	Session string `json:"session,omitempty"`
}

// Options are the secrets accepted by the admin APIs.
type Options struct {
	// Token is a bearer token in clear; TokenSHA256 its hash (as FirstRunToken stores it).
	// Either may be set.
	Token       string
	TokenSHA256 []byte
	// BasicUser and BasicPassword enable HTTP Basic authentication (both required).
	BasicUser, BasicPassword string
	// Sessions, when set, enables the admin console's cookie sessions (SessionHandler).
	Sessions *Sessions
	// Audit, when set, records every request Require lets through.
	Audit Auditor
	// Logger logs console logins (default: discard).
	Logger *slog.Logger
}

// New builds Credentials. At least one way in must be configured.
func New(o Options) (*Credentials, error) {
	c := &Credentials{sessions: o.Sessions, audit: o.Audit, logger: o.Logger}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Token != "":
		c.tokenHash, c.hasToken = sha256.Sum256([]byte(o.Token)), true
	case len(o.TokenSHA256) == sha256.Size:
		copy(c.tokenHash[:], o.TokenSHA256)
		c.hasToken = true
	case len(o.TokenSHA256) != 0:
		return nil, errors.New("adminauth: TokenSHA256 must be 32 bytes")
	}
	if o.BasicUser != "" && o.BasicPassword != "" {
		c.basicHash, c.hasBasic = sha256.Sum256([]byte(o.BasicUser+":"+o.BasicPassword)), true
	}
	if !c.hasToken && !c.hasBasic {
		return nil, ErrNoCredentials
	}
	return c, nil
}

func (c *Credentials) log(msg string, args ...any) { c.logger.Info(msg, args...) }

// checkToken compares a bearer token with the configured one (constant time on hashes).
func (c *Credentials) checkToken(tok string) bool {
	if !c.hasToken || tok == "" {
		return false
	}
	got := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(got[:], c.tokenHash[:]) == 1
}

// checkBasic compares Basic credentials with the configured ones.
func (c *Credentials) checkBasic(user, password string) bool {
	if !c.hasBasic || user == "" {
		return false
	}
	got := sha256.Sum256([]byte(user + ":" + password))
	return subtle.ConstantTimeCompare(got[:], c.basicHash[:]) == 1
}

// Authorized reports whether r carries an accepted bearer token or Basic credentials.
func (c *Credentials) Authorized(r *http.Request) bool {
	_, ok := c.explicit(r)
	return ok
}

// explicit checks the credentials a request carries itself (not ambient: no CSRF check).
func (c *Credentials) explicit(r *http.Request) (Actor, bool) {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") && c.hasToken {
		return Actor{ID: "admin", Via: "token"}, c.checkToken(a[7:])
	}
	if u, p, ok := r.BasicAuth(); ok && c.hasBasic {
		return Actor{ID: "admin", Via: "basic"}, c.checkBasic(u, p)
	}
	return Actor{}, false
}

type actorKey struct{}

// ActorOf is the admin Require let the request through for (ok false outside Require).
func ActorOf(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// Require lets a request through with an accepted bearer token or Basic credentials, or
// with the admin console's session cookie, whose state-changing requests must also carry
// the session's CSRF token (403 code "csrf" without it, nothing done). Otherwise it answers
// 401 with a WWW-Authenticate challenge. Requests let through are given to the Auditor.
func (c *Credentials) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := c.explicit(r)
		if !ok && r.Header.Get("Authorization") == "" {
			tok, _, err := c.consoleSession(r)
			switch {
			case err == nil:
				sum := sha256.Sum256([]byte(tok))
				actor, ok = Actor{ID: "admin", Via: "console", Session: hex.EncodeToString(sum[:4])}, true
				if err := cookieauth.Check(r, tok); err != nil {
					c.logger.Info("admin request refused: CSRF", "reason", err.Error(), "method", r.Method, "remote", r.RemoteAddr)
					c.serve(w, r, actor, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { csrfRefused(w, err) }))
					return
				}
			case !errors.Is(err, ErrNoSession):
				apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "session store unavailable, retry")
				return
			}
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chatgate-admin", Basic realm="chatgate-admin"`)
			apijson.Error(w, http.StatusUnauthorized, apijson.CodeUnauthorized, "missing or wrong admin credentials")
			return
		}
		c.serve(w, r, actor, next)
	})
}

// serve runs next for actor, through the Auditor if there is one.
func (c *Credentials) serve(w http.ResponseWriter, r *http.Request, actor Actor, next http.Handler) {
	r = r.WithContext(context.WithValue(r.Context(), actorKey{}, actor))
	if c.audit != nil {
		c.audit.Audit(w, r, actor, next)
		return
	}
	next.ServeHTTP(w, r)
}
