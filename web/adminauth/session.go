package adminauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/httprate"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/web/apijson"
	"github.com/chatgate/chatgate/web/cookieauth"
)

// DefaultSessionTTL is how long an admin console session lasts (log out revokes it earlier).
const DefaultSessionTTL = 8 * time.Hour

// sessionPrefix is the key prefix of admin console sessions in Bucket.
const sessionPrefix = "ses."

// SessionTokenPrefix marks an admin console session token (so a leaked string is
// recognisable and never mistaken for the admin token).
const SessionTokenPrefix = "cga_"

// ErrNoSession: an unknown, expired or revoked admin console session.
var ErrNoSession = errors.New("adminauth: no such admin session")

// Sessions are the admin console's sessions: the admin token (or Basic credentials) is
// exchanged once for a random session token that lives in an HttpOnly cookie. Only the
// token's SHA-256 is stored, in the KV bucket CHATGATE_ADMIN, so sessions are cluster-wide,
// survive restarts and a log out on one node ends them on all.
type Sessions struct {
	kv  jetstream.KeyValue
	ttl time.Duration
	now func() time.Time
}

// SessionsConfig configures OpenSessions.
type SessionsConfig struct {
	KV       KVOpener // required
	Replicas int
	TTL      time.Duration    // default DefaultSessionTTL
	Now      func() time.Time // default time.Now
}

type sessionRec struct {
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// OpenSessions opens the admin session store (the bucket is FirstRunToken's).
func OpenSessions(ctx context.Context, cfg SessionsConfig) (*Sessions, error) {
	if cfg.KV == nil {
		return nil, errors.New("adminauth: SessionsConfig.KV is required")
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultSessionTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	kv, err := cfg.KV.KV(ctx, jetstream.KeyValueConfig{Bucket: Bucket, History: 1, Replicas: cfg.Replicas})
	if err != nil {
		return nil, fmt.Errorf("adminauth: open %s: %w", Bucket, err)
	}
	return &Sessions{kv: kv, ttl: cfg.TTL, now: cfg.Now}, nil
}

func sessionKey(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return sessionPrefix + hex.EncodeToString(sum[:])
}

// create makes a session and returns its token (shown only in the cookie) and expiry.
func (s *Sessions) create(ctx context.Context) (string, time.Time, error) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails (Go 1.24+)
	tok := SessionTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := s.now().UTC()
	exp := now.Add(s.ttl)
	b, _ := json.Marshal(sessionRec{Created: now, Expires: exp})
	if _, err := s.kv.Put(ctx, sessionKey(tok), b); err != nil {
		return "", time.Time{}, fmt.Errorf("adminauth: store session: %w", err)
	}
	return tok, exp, nil
}

// check resolves a session token to its expiry (ErrNoSession if it is not valid).
func (s *Sessions) check(ctx context.Context, tok string) (time.Time, error) {
	if !strings.HasPrefix(tok, SessionTokenPrefix) {
		return time.Time{}, ErrNoSession
	}
	e, err := s.kv.Get(ctx, sessionKey(tok))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, ErrNoSession
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("adminauth: read session: %w", err)
	}
	var rec sessionRec
	if json.Unmarshal(e.Value(), &rec) != nil {
		return time.Time{}, ErrNoSession
	}
	if !s.now().Before(rec.Expires) {
		_ = s.kv.Purge(ctx, e.Key()) // expired: nothing to keep
		return time.Time{}, ErrNoSession
	}
	return rec.Expires, nil
}

// revoke ends a session (an unknown one is not an error: logging out twice is fine).
func (s *Sessions) revoke(ctx context.Context, tok string) error {
	if err := s.kv.Purge(ctx, sessionKey(tok)); err != nil {
		return fmt.Errorf("adminauth: revoke session: %w", err)
	}
	return nil
}

// consoleSession is the request's valid admin console session token ("" if none).
func (c *Credentials) consoleSession(r *http.Request) (string, time.Time, error) {
	tok := cookieauth.Value(r, cookieauth.AdminCookie)
	if tok == "" || c.sessions == nil {
		return "", time.Time{}, ErrNoSession
	}
	exp, err := c.sessions.check(r.Context(), tok)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

// ConsoleSession reports whether the request carries a valid admin console session (the
// admin page is served by web/console only then).
func (c *Credentials) ConsoleSession(r *http.Request) bool {
	_, _, err := c.consoleSession(r)
	return err == nil
}

// LoginPerMinute bounds admin console logins per client address.
const LoginPerMinute = 10

type loginBody struct {
	Token    string `json:"token,omitempty"`
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
}

// SessionHandler serves the admin console's session at one path (cmd/chatgate:
// /admin/session), by method:
//
//	POST    {token} or {user, password} → Set-Cookie chatgate_admin; {csrfToken, expires}
//	GET     the cookie's session → {csrfToken, expires}; 401 without one
//	DELETE  log out: the session revoked, the cookie cleared (CSRF token required)
//
// Logins are limited to LoginPerMinute per client address before the secret is checked.
func (c *Credentials) SessionHandler() http.Handler {
	byIP := httprate.NewRateLimiter(LoginPerMinute, time.Minute)
	mux := map[string]http.HandlerFunc{}
	mux[http.MethodPost] = func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if byIP.OnLimit(w, r, httprate.CanonicalizeIP(host)) {
			apijson.Error(w, http.StatusTooManyRequests, "rate_limited", "too many admin logins, retry later")
			return
		}
		if c.sessions == nil {
			apijson.Error(w, http.StatusNotFound, apijson.CodeNotFound, "admin console sessions are not enabled")
			return
		}
		var body loginBody
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if dec.Decode(&body) != nil {
			apijson.Error(w, http.StatusBadRequest, apijson.CodeBadRequest, "body must be {\"token\"} or {\"user\", \"password\"}")
			return
		}
		if !c.checkToken(body.Token) && !c.checkBasic(body.User, body.Password) {
			c.log("admin console login refused", "remote", host)
			apijson.Error(w, http.StatusUnauthorized, apijson.CodeUnauthorized, "admin credentials refused")
			return
		}
		tok, exp, err := c.sessions.create(r.Context())
		if err != nil {
			apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "session store unavailable, retry")
			return
		}
		c.log("admin console login", "remote", host)
		cookieauth.Set(w, r, cookieauth.AdminCookie, tok, exp)
		apijson.Write(w, http.StatusOK, map[string]any{"csrfToken": cookieauth.Token(tok), "expires": exp})
	}
	mux[http.MethodGet] = func(w http.ResponseWriter, r *http.Request) {
		tok, exp, err := c.consoleSession(r)
		if err != nil {
			c.refuseSession(w, r, err)
			return
		}
		apijson.Write(w, http.StatusOK, map[string]any{"csrfToken": cookieauth.Token(tok), "expires": exp})
	}
	mux[http.MethodDelete] = func(w http.ResponseWriter, r *http.Request) {
		tok, _, err := c.consoleSession(r)
		if err != nil {
			c.refuseSession(w, r, err)
			return
		}
		if err := cookieauth.Check(r, tok); err != nil {
			csrfRefused(w, err)
			return
		}
		if err := c.sessions.revoke(r.Context(), tok); err != nil {
			apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "session store unavailable, retry")
			return
		}
		cookieauth.Clear(w, r, cookieauth.AdminCookie)
		w.WriteHeader(http.StatusNoContent)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h, ok := mux[r.Method]
		if !ok {
			w.Header().Set("Allow", "GET, POST, DELETE")
			apijson.Error(w, http.StatusMethodNotAllowed, apijson.CodeMethodNotAllowed, "GET, POST or DELETE")
			return
		}
		h(w, r)
	})
}

// refuseSession answers a request whose session cookie is missing or not valid (401, the
// cookie cleared) or could not be checked (503).
func (c *Credentials) refuseSession(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, ErrNoSession) {
		apijson.Error(w, http.StatusServiceUnavailable, apijson.CodeUnavailable, "session store unavailable, retry")
		return
	}
	if cookieauth.Value(r, cookieauth.AdminCookie) != "" {
		cookieauth.Clear(w, r, cookieauth.AdminCookie)
	}
	apijson.Error(w, http.StatusUnauthorized, apijson.CodeUnauthorized, "no admin session")
}

// csrfRefused answers a cookie-authenticated change without a valid CSRF token: 403,
// nothing done.
func csrfRefused(w http.ResponseWriter, err error) {
	apijson.Error(w, http.StatusForbidden, apijson.CodeCSRF, "refused: "+err.Error())
}
