package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/web/adminauth"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cheap keeps tests fast; the production cost is DefaultHasher.
var cheap = Hasher{Time: 1, Memory: 1024, Threads: 1}

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

func startNATS(t *testing.T, dir string) *natsserver.Conn {
	t.Helper()
	c, err := natsserver.Start(context.Background(), natsserver.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func open(t *testing.T, c *natsserver.Conn, clk *clock) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{KV: c, Now: clk.now, Hasher: cheap, SessionTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoginSessionLogoutExpiry(t *testing.T) {
	ctx := context.Background()
	conn := startNATS(t, t.TempDir())
	defer conn.Close(ctx)
	clk := &clock{}
	clk.add(time.Duration(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano()))
	s := open(t, conn, clk)

	if _, err := s.Put(ctx, "ann", Spec{DisplayName: "Ann", Role: RoleAgent, Queues: []string{"support"}, Capacity: 3, Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, pw string }{{"ann", "wrong password"}, {"bob", "correct horse"}, {"../x", "correct horse"}, {"ann", ""}} {
		if _, _, _, err := s.Login(ctx, c.id, c.pw); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("login %q/%q: %v, want ErrBadCredentials", c.id, c.pw, err)
		}
	}
	tok, exp, acct, err := s.Login(ctx, "ann", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, SessionTokenPrefix) || !exp.Equal(clk.now().Add(time.Hour)) || acct.ID != "ann" || acct.Capacity != 3 {
		t.Fatalf("login: token %q exp %v acct %+v", tok, exp, acct)
	}
	p, err := s.Authenticate(ctx, tok)
	if err != nil || p.Account.ID != "ann" || !p.Session || p.Account.Role != RoleAgent {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	if _, err := s.Authenticate(ctx, tok+"x"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("altered token: %v", err)
	}
	// Logout revokes it; a second logout is fine.
	if err := s.Logout(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("after logout: %v", err)
	}
	if err := s.Logout(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// Expiry on the injected clock.
	tok2, _, _, err := s.Login(ctx, "ann", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	clk.add(time.Hour - time.Second)
	if _, err := s.Authenticate(ctx, tok2); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	clk.add(time.Second)
	if _, err := s.Authenticate(ctx, tok2); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("at expiry: %v", err)
	}
	// Disabling the account stops its live sessions.
	tok3, _, _, err := s.Login(ctx, "ann", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "ann", Spec{DisplayName: "Ann", Role: RoleAgent, Disabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok3); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("disabled: %v", err)
	}
	if _, _, _, err := s.Login(ctx, "ann", "correct horse"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("login while disabled: %v", err)
	}
}

func TestAPITokensAndRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	conn := startNATS(t, dir)
	clk := &clock{}
	clk.add(time.Duration(time.Now().UnixNano()))
	s := open(t, conn, clk)
	if _, err := s.Put(ctx, "helper-bot", Spec{DisplayName: "Helper", Role: RoleBot, Queues: []string{"support"}}); err != nil {
		t.Fatal(err)
	}
	// A bot without a password cannot log in.
	if _, _, _, err := s.Login(ctx, "helper-bot", "anything at all"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("login without password: %v", err)
	}
	tok1, ref1, err := s.NewToken(ctx, "helper-bot", "prod")
	if err != nil {
		t.Fatal(err)
	}
	tok2, _, err := s.NewToken(ctx, "helper-bot", "staging")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok1, APITokenPrefix) || tok1 == tok2 {
		t.Fatalf("tokens %q %q", tok1, tok2)
	}
	a, _ := s.Get(ctx, "helper-bot")
	if len(a.Tokens) != 2 || a.HasPassword {
		t.Fatalf("account: %+v", a)
	}
	raw, _ := json.Marshal(a)
	if bytes.Contains(raw, []byte(tok1[len(APITokenPrefix):])) || bytes.Contains(raw, []byte(hashToken(tok1))) {
		t.Fatal("account JSON carries a token or its hash")
	}
	if err := s.RevokeToken(ctx, "helper-bot", ref1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok1); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("revoked token: %v", err)
	}
	if err := s.RevokeToken(ctx, "helper-bot", ref1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke twice: %v", err)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// After a restart the remaining token still works.
	conn = startNATS(t, dir)
	defer conn.Close(ctx)
	s = open(t, conn, clk)
	p, err := s.Authenticate(ctx, tok2)
	if err != nil || p.Account.ID != "helper-bot" || p.Session || p.Account.Role != RoleBot {
		t.Fatalf("after restart: %+v %v", p, err)
	}
	// Deleting the account stops the token.
	if err := s.Delete(ctx, "helper-bot"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok2); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("deleted account's token: %v", err)
	}
	if list, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("list: %v %v", list, err)
	}
}

func TestSpecValidation(t *testing.T) {
	ctx := context.Background()
	conn := startNATS(t, t.TempDir())
	defer conn.Close(ctx)
	s := open(t, conn, &clock{})
	bad := []struct {
		id string
		sp Spec
	}{
		{"", Spec{DisplayName: "x", Role: RoleAgent}},
		{"a b", Spec{DisplayName: "x", Role: RoleAgent}},
		{strings.Repeat("a", 65), Spec{DisplayName: "x", Role: RoleAgent}},
		{"a", Spec{DisplayName: " ", Role: RoleAgent}},
		{"a", Spec{DisplayName: "x", Role: "admin"}},
		{"a", Spec{DisplayName: "x", Role: RoleAgent, Capacity: -1}},
		{"a", Spec{DisplayName: "x", Role: RoleAgent, Capacity: MaxCapacity + 1}},
		{"a", Spec{DisplayName: "x", Role: RoleAgent, Password: "short"}},
		{"a", Spec{DisplayName: "x", Role: RoleAgent, Queues: []string{""}}},
	}
	for _, b := range bad {
		if _, err := s.Put(ctx, b.id, b.sp); !errors.Is(err, ErrInvalid) {
			t.Errorf("Put(%q, %+v): %v, want ErrInvalid", b.id, b.sp, err)
		}
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Fatalf("refused puts stored something: %v", list)
	}
}

func TestHasherVerify(t *testing.T) {
	h := cheap.Hash("secret password")
	if !cheap.Verify(h, "secret password") || cheap.Verify(h, "secret passwore") {
		t.Fatal("verify")
	}
	// Another cost still verifies: the parameters travel with the hash.
	if !DefaultHasher.Verify(h, "secret password") {
		t.Fatal("verify with another hasher's parameters")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1024,t=1,p=1$AAAA$AAAA", strings.Replace(h, "m=1024", "m=999999999", 1), strings.Replace(h, "t=1", "t=0", 1), h[:len(h)-3] + "!!!"} {
		if cheap.Verify(bad, "secret password") {
			t.Errorf("malformed hash %q verified", bad)
		}
	}
}

func TestAdminHandler(t *testing.T) {
	ctx := context.Background()
	conn := startNATS(t, t.TempDir())
	defer conn.Close(ctx)
	s := open(t, conn, &clock{})
	auth, err := adminauth.New(adminauth.Options{Token: "admin-secret"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/admin/accounts", AdminHandler(s, auth)))
	defer srv.Close()
	do := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/admin/accounts"+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, _ := do("PUT", "/ann", "", `{"displayName":"Ann","role":"agent","password":"correct horse"}`); code != 401 {
		t.Fatalf("no admin token: %d", code)
	}
	if code, _ := do("PUT", "/ann", "wrong", `{"displayName":"Ann","role":"agent","password":"correct horse"}`); code != 401 {
		t.Fatalf("wrong admin token: %d", code)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Fatal("a refused request created an account")
	}
	code, m := do("PUT", "/ann", "admin-secret", `{"displayName":"Ann","role":"agent","queues":["support"],"capacity":2,"password":"correct horse"}`)
	if code != 200 || m["id"] != "ann" || m["hasPassword"] != true || m["password"] != nil {
		t.Fatalf("put: %d %v", code, m)
	}
	if code, _ := do("PUT", "/ann", "admin-secret", `{"displayName":"Ann","role":"agent","bogus":1}`); code != 400 {
		t.Fatalf("unknown field: %d", code)
	}
	if code, _ := do("PUT", "/ann", "admin-secret", `{"displayName":"Ann","role":"king"}`); code != 400 {
		t.Fatalf("bad role: %d", code)
	}
	code, m = do("POST", "/ann/tokens", "admin-secret", `{"label":"desk"}`)
	tok, _ := m["token"].(string)
	if code != 201 || !strings.HasPrefix(tok, APITokenPrefix) {
		t.Fatalf("token: %d %v", code, m)
	}
	if _, err := s.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	code, m = do("GET", "/", "admin-secret", "")
	if code != 200 || len(m["accounts"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, m)
	}
	ref := m["accounts"].([]any)[0].(map[string]any)["tokens"].([]any)[0].(map[string]any)["id"].(string)
	if code, _ := do("DELETE", "/ann/tokens/"+ref, "admin-secret", ""); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("revoked over HTTP: %v", err)
	}
	if code, m := do("GET", "/nobody", "admin-secret", ""); code != 404 || m["code"] != "not_found" {
		t.Fatalf("unknown: %d %v", code, m)
	}
	// The router's answers have the admin APIs' shape too.
	if code, m := do("GET", "/ann/nothing", "admin-secret", ""); code != 404 || m["code"] != "not_found" || m["error"] != "no such endpoint" {
		t.Fatalf("unknown path: %d %v", code, m)
	}
	if code, m := do("POST", "/ann", "admin-secret", "{}"); code != 405 || m["code"] != "method_not_allowed" || m["error"] != "POST is not allowed here; use GET, PUT, DELETE" {
		t.Fatalf("POST on an account: %d %v", code, m)
	}
	if code, m := do("PUT", "/ann", "admin-secret", `{"displayName":"Ann","role":"wizard"}`); code != 400 || m["code"] != "bad_request" {
		t.Fatalf("invalid account: %d %v", code, m)
	}
	if code, _ := do("DELETE", "/ann", "admin-secret", ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := do("GET", "/ann", "admin-secret", ""); code != 404 {
		t.Fatalf("deleted: %d", code)
	}
}
