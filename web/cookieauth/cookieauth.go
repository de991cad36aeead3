package cookieauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Cookie names: one for staff (agents and supervisors, web/agentapi) and one for admins
// (web/adminauth), so an admin session and a staff session in one browser stay apart.
const (
	StaffCookie = "chatgate_console"
	AdminCookie = "chatgate_admin"
)

// Header is the request header that carries the CSRF token.
const Header = "X-CSRF-Token"

// csrfLabel is the HMAC message; the version lets a later scheme refuse old tokens.
const csrfLabel = "chatgate console csrf v1"

// Errors of Check.
var (
	// ErrMissingToken: a state-changing request without X-CSRF-Token.
	ErrMissingToken = errors.New("cookieauth: missing " + Header)
	// ErrWrongToken: an X-CSRF-Token that is not the session's.
	ErrWrongToken = errors.New("cookieauth: wrong " + Header)
	// ErrCrossOrigin: a state-changing request from another origin.
	ErrCrossOrigin = errors.New("cookieauth: cross-origin request")
)

// Token returns the CSRF token of a session token.
func Token(session string) string {
	m := hmac.New(sha256.New, []byte(session))
	m.Write([]byte(csrfLabel))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ValidToken reports whether got is session's CSRF token (constant time).
func ValidToken(session, got string) bool {
	want := Token(session)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// crossOrigin is net/http's Sec-Fetch-Site / Origin check (Go 1.25+). Its zero value trusts
// no extra origin: the consoles call only their own.
var crossOrigin = http.NewCrossOriginProtection()

// Check decides a request authenticated by a session cookie: safe methods (GET, HEAD,
// OPTIONS) pass; any other must come from this origin and carry the session's CSRF token.
func Check(r *http.Request, session string) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if crossOrigin.Check(r) != nil {
		return ErrCrossOrigin
	}
	got := r.Header.Get(Header)
	if got == "" {
		return ErrMissingToken
	}
	if !ValidToken(session, got) {
		return ErrWrongToken
	}
	return nil
}

// SameOrigin reports whether the request header h says it comes from a page of host (the
// Host the request was sent to): Sec-Fetch-Site same-origin, or else an Origin whose host is
// host. A request with neither is not from a browser page and is refused (the caller uses
// it where only browsers send cookies: the CometD handshake).
func SameOrigin(h http.Header, host string) bool {
	if s := h.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin"
	}
	o := h.Get("Origin")
	if o == "" || o == "null" {
		return false
	}
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// Value returns the value of the cookie name ("" without one).
func Value(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// FromHeader returns the value of the cookie name in the request header h ("" without
// one), for a request known only by its header (a CometD handshake).
func FromHeader(h http.Header, name string) string {
	return Value(&http.Request{Header: h}, name)
}

// secure reports whether the request came over TLS.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// Set sets the session cookie name to value until expires.
func Set(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", Expires: expires, MaxAge: max(int(time.Until(expires).Seconds()), 1),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r),
	})
}

// Clear removes the session cookie name.
func Clear(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r),
	})
}
