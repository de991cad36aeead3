package adminauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/chatgate/chatgate/web/apijson"
)

// Credentials are the accepted secrets. Only hashes are kept.
type Credentials struct {
	tokenHash [32]byte
	hasToken  bool
	basicHash [32]byte
	hasBasic  bool
}

// ErrNoCredentials is returned by New when neither a token nor Basic credentials are given.
var ErrNoCredentials = errors.New("adminauth: a bearer token or basic credentials are required")

// Options are the secrets accepted by the admin APIs.
type Options struct {
	// Token is a bearer token in clear; TokenSHA256 its hash (as FirstRunToken stores it).
	// Either may be set.
	Token       string
	TokenSHA256 []byte
	// BasicUser and BasicPassword enable HTTP Basic authentication (both required).
	BasicUser, BasicPassword string
}

// New builds Credentials. At least one way in must be configured.
func New(o Options) (*Credentials, error) {
	c := &Credentials{}
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

// Authorized reports whether r carries an accepted bearer token or Basic credentials.
func (c *Credentials) Authorized(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") && c.hasToken {
		got := sha256.Sum256([]byte(a[7:]))
		return subtle.ConstantTimeCompare(got[:], c.tokenHash[:]) == 1
	}
	if u, p, ok := r.BasicAuth(); ok && c.hasBasic {
		got := sha256.Sum256([]byte(u + ":" + p))
		return subtle.ConstantTimeCompare(got[:], c.basicHash[:]) == 1
	}
	return false
}

// Require answers 401 with a WWW-Authenticate challenge unless r is authorized.
func (c *Credentials) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.Authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chatgate-admin", Basic realm="chatgate-admin"`)
			apijson.Error(w, http.StatusUnauthorized, apijson.CodeUnauthorized, "missing or wrong admin credentials")
			return
		}
		next.ServeHTTP(w, r)
	})
}
