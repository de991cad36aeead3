package adminauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatgate/chatgate/internal/natsserver"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewNeedsAWayIn(t *testing.T) {
	for name, o := range map[string]Options{
		"nothing":         {},
		"user only":       {BasicUser: "admin"},
		"password only":   {BasicPassword: "pw"},
		"short hash only": {TokenSHA256: []byte{1, 2, 3}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := New(Options{}); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("err = %v, want ErrNoCredentials", err)
	}
}

func TestAuthorized(t *testing.T) {
	hash := sha256.Sum256([]byte("hashed-token-value"))
	cases := []struct {
		name   string
		opts   Options
		header func(r *http.Request)
		want   bool
	}{
		{"bearer ok", Options{Token: "s3cret-token-value"}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-token-value") }, true},
		{"bearer case-insensitive scheme", Options{Token: "s3cret-token-value"}, func(r *http.Request) { r.Header.Set("Authorization", "bearer s3cret-token-value") }, true},
		{"bearer wrong", Options{Token: "s3cret-token-value"}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-token-valuE") }, false},
		{"bearer prefix of token", Options{Token: "s3cret-token-value"}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }, false},
		{"hashed token", Options{TokenSHA256: hash[:]}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer hashed-token-value") }, true},
		{"no header", Options{Token: "s3cret-token-value"}, func(r *http.Request) {}, false},
		{"basic ok", Options{BasicUser: "admin", BasicPassword: "pw"}, func(r *http.Request) { r.SetBasicAuth("admin", "pw") }, true},
		{"basic wrong password", Options{BasicUser: "admin", BasicPassword: "pw"}, func(r *http.Request) { r.SetBasicAuth("admin", "pX") }, false},
		{"basic when only a token is set", Options{Token: "s3cret-token-value"}, func(r *http.Request) { r.SetBasicAuth("", "s3cret-token-value") }, false},
		{"bearer when only basic is set", Options{BasicUser: "admin", BasicPassword: "pw"}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer pw") }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cr, err := New(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/x", nil)
			c.header(r)
			if got := cr.Authorized(r); got != c.want {
				t.Fatalf("Authorized = %v, want %v", got, c.want)
			}
			w := httptest.NewRecorder()
			cr.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })).ServeHTTP(w, r)
			if want := map[bool]int{true: 204, false: 401}[c.want]; w.Code != want {
				t.Fatalf("Require answered %d, want %d", w.Code, want)
			}
			if !c.want && w.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without a challenge")
			}
		})
	}
}

func TestFirstRunTokenIsGeneratedOnceAndSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c1, err := natsserver.Start(ctx, natsserver.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	hash, token, err := FirstRunToken(ctx, c1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if token == "" || len(hash) != sha256.Size {
		t.Fatalf("first call: token %q, hash %d bytes", token, len(hash))
	}
	if sum := sha256.Sum256([]byte(token)); string(sum[:]) != string(hash) {
		t.Fatal("hash is not the token's SHA-256")
	}
	if _, again, err := FirstRunToken(ctx, c1, 1); err != nil || again != "" {
		t.Fatalf("second call: token %q err %v; want no new token", again, err)
	}
	if err := c1.Close(ctx); err != nil {
		t.Fatal(err)
	}

	c2, err := natsserver.Start(ctx, natsserver.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	hash2, token2, err := FirstRunToken(ctx, c2, 1)
	if err != nil || token2 != "" || string(hash2) != string(hash) {
		t.Fatalf("after restart: token %q err %v, same hash %v", token2, err, string(hash2) == string(hash))
	}
	cr, err := New(Options{TokenSHA256: hash2})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	if !cr.Authorized(r) {
		t.Fatal("the printed token is not accepted after a restart")
	}
}
