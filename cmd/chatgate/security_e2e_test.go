package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Browser-console security against the binary (docs/consoles.md, "Security"): session
// cookies, CSRF tokens, pages behind their role, the console's CometD handshake.

const secAdminToken = "security-e2e-admin-token-0123456789"

type secResp struct {
	status int
	header http.Header
	body   []byte
}

func (r secResp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// secDo sends method path with body (JSON unless nil) and the given header lines.
func secDo(t *testing.T, p *process, method, path string, body any, header ...string) secResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.url(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return secResp{status: resp.StatusCode, header: resp.Header, body: b}
}

// sessionCookie finds the Set-Cookie of name and checks the attributes every console
// session cookie must have.
func sessionCookie(t *testing.T, r secResp, name string, wantSecure bool) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name != name {
			continue
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != wantSecure || c.Value == "" || c.MaxAge <= 0 {
			t.Fatalf("cookie %s: %+v (want HttpOnly, SameSite=Strict, Path=/, Secure=%v)", name, c, wantSecure)
		}
		return c
	}
	t.Fatalf("no %s cookie in %v", name, r.header.Values("Set-Cookie"))
	return nil
}

func csrfRefusal(t *testing.T, what string, r secResp) {
	t.Helper()
	var e struct{ Code, Error string }
	if r.status != http.StatusForbidden || json.Unmarshal(r.body, &e) != nil || e.Code != "csrf" {
		t.Fatalf("%s: %d %s, want 403 code csrf", what, r.status, r.body)
	}
}

func TestConsoleSessionCookieAndCSRF(t *testing.T) {
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--admin-token", secAdminToken)
	for _, a := range []struct{ id, role string }{{"ann", "agent"}, {"sue", "supervisor"}} {
		spec := map[string]any{"displayName": a.id, "role": a.role, "queues": []string{restSvc}, "password": a.id + "-password"}
		if r := secDo(t, p, "PUT", "/admin/accounts/"+a.id, spec, "Authorization", "Bearer "+secAdminToken); r.status != 200 {
			t.Fatalf("PUT %s: %d %s", a.id, r.status, r.body)
		}
	}

	// An agent is refused by the supervisor console: no cookie, no session left.
	r := secDo(t, p, "POST", "/agent/v1/session", map[string]string{"id": "ann", "password": "ann-password", "console": "supervisor"})
	if r.status != http.StatusForbidden || len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("agent on the supervisor console: %d %s %v", r.status, r.body, r.header.Values("Set-Cookie"))
	}
	// The agent console logs in: the cookie, and a CSRF token instead of the session token.
	r = secDo(t, p, "POST", "/agent/v1/session", map[string]string{"id": "ann", "password": "ann-password", "console": "agent"})
	if r.status != 200 {
		t.Fatalf("agent console login: %d %s", r.status, r.body)
	}
	ck := sessionCookie(t, r, "chatgate_console", false)
	var login struct {
		CSRFToken string `json:"csrfToken"`
		Token     string `json:"token"`
	}
	r.json(t, &login)
	if login.CSRFToken == "" || login.Token != "" || strings.Contains(string(r.body), ck.Value) {
		t.Fatalf("login answer %s: want a csrfToken and never the session token", r.body)
	}
	cookie := "chatgate_console=" + ck.Value
	var sess struct {
		CSRFToken string `json:"csrfToken"`
		Account   struct{ ID string }
	}
	secDo(t, p, "GET", "/agent/v1/session", nil, "Cookie", cookie).json(t, &sess)
	if sess.CSRFToken != login.CSRFToken || sess.Account.ID != "ann" {
		t.Fatalf("GET /session %+v", sess)
	}

	presence := func() string {
		var me struct{ Presence struct{ State string } }
		secDo(t, p, "GET", "/agent/v1/me", nil, "Cookie", cookie).json(t, &me)
		return me.Presence.State
	}
	before := presence()
	ready := map[string]string{"state": "ready"}
	csrfRefusal(t, "no CSRF token", secDo(t, p, "PUT", "/agent/v1/me/state", ready, "Cookie", cookie))
	csrfRefusal(t, "wrong CSRF token", secDo(t, p, "PUT", "/agent/v1/me/state", ready, "Cookie", cookie, "X-CSRF-Token", flipLast(sess.CSRFToken)))
	csrfRefusal(t, "another session's CSRF token", secDo(t, p, "PUT", "/agent/v1/me/state", ready, "Cookie", cookie, "X-CSRF-Token", otherCSRF(t, p)))
	csrfRefusal(t, "cross-site with the token", secDo(t, p, "PUT", "/agent/v1/me/state", ready, "Cookie", cookie, "X-CSRF-Token", sess.CSRFToken, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"))
	if got := presence(); got != before || got == "ready" {
		t.Fatalf("a refused request changed the presence: %q → %q", before, got)
	}
	if r := secDo(t, p, "PUT", "/agent/v1/me/state", ready, "Cookie", cookie, "X-CSRF-Token", sess.CSRFToken, "Sec-Fetch-Site", "same-origin"); r.status != 200 || presence() != "ready" {
		t.Fatalf("with the CSRF token: %d %s", r.status, r.body)
	}
	// An API token in a cookie is not a session.
	if r := secDo(t, p, "GET", "/agent/v1/me", nil, "Cookie", "chatgate_console=cgt_notasession"); r.status != 401 {
		t.Fatalf("API token in the cookie: %d", r.status)
	}

	// Bearer tokens (desktops, bots) need no CSRF token.
	tok := agentLogin(t, p, "sue")
	if r := secDo(t, p, "PUT", "/agent/v1/me/state", map[string]string{"state": "not-ready"}, "Authorization", "Bearer "+tok); r.status != 200 {
		t.Fatalf("bearer without CSRF: %d %s", r.status, r.body)
	}

	// Pages behind their role: the agent's cookie opens /agent/, not /supervisor/.
	if r := secDo(t, p, "GET", "/agent/", nil, "Cookie", cookie); !bytes.Contains(r.body, []byte(`data-view="main"`)) {
		t.Fatalf("/agent/ with the agent's session is not the console")
	}
	for _, c := range []string{"", cookie, "chatgate_console=cgs_forged"} {
		r := secDo(t, p, "GET", "/supervisor/", nil, "Cookie", c)
		if r.status != 200 || bytes.Contains(r.body, []byte(`data-view="main"`)) || !bytes.Contains(r.body, []byte("login.js")) {
			t.Fatalf("/supervisor/ with cookie %q: %d, not the login view only", c, r.status)
		}
	}

	// Log out needs the CSRF token too; afterwards the cookie's session is revoked.
	csrfRefusal(t, "log out without the CSRF token", secDo(t, p, "DELETE", "/agent/v1/session", nil, "Cookie", cookie))
	if r := secDo(t, p, "DELETE", "/agent/v1/session", nil, "Cookie", cookie, "X-CSRF-Token", sess.CSRFToken); r.status != 204 {
		t.Fatalf("log out: %d %s", r.status, r.body)
	}
	if r := secDo(t, p, "GET", "/agent/v1/session", nil, "Cookie", cookie); r.status != 401 {
		t.Fatalf("the session after log out: %d", r.status)
	}
	// Behind a TLS proxy the cookie is Secure.
	r = secDo(t, p, "POST", "/agent/v1/session", map[string]string{"id": "ann", "password": "ann-password", "console": "agent"}, "X-Forwarded-Proto", "https")
	sessionCookie(t, r, "chatgate_console", true)
}

// flipLast changes the last character of a token (to another one, whatever it was).
func flipLast(tok string) string {
	last := byte('A')
	if tok[len(tok)-1] == 'A' {
		last = 'B'
	}
	return tok[:len(tok)-1] + string(last)
}

// otherCSRF logs sue in on the supervisor console and returns her session's CSRF token.
func otherCSRF(t *testing.T, p *process) string {
	t.Helper()
	var s struct {
		CSRFToken string `json:"csrfToken"`
	}
	secDo(t, p, "POST", "/agent/v1/session", map[string]string{"id": "sue", "password": "sue-password", "console": "supervisor"}).json(t, &s)
	if s.CSRFToken == "" {
		t.Fatal("sue's login")
	}
	return s.CSRFToken
}

func TestAdminConsoleSessionAndCSRF(t *testing.T) {
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--admin-token", secAdminToken)
	if r := secDo(t, p, "POST", "/admin/session", map[string]string{"token": "not-the-admin-token"}); r.status != 401 || len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("wrong admin token: %d %v", r.status, r.header.Values("Set-Cookie"))
	}
	if r := secDo(t, p, "GET", "/admin/", nil); bytes.Contains(r.body, []byte(`data-view="main"`)) || !bytes.Contains(r.body, []byte("login.js")) {
		t.Fatal("/admin/ without a session is more than the login view")
	}
	r := secDo(t, p, "POST", "/admin/session", map[string]string{"token": secAdminToken})
	if r.status != 200 {
		t.Fatalf("admin login: %d %s", r.status, r.body)
	}
	ck := sessionCookie(t, r, "chatgate_admin", false)
	if strings.Contains(ck.Value, secAdminToken) || strings.Contains(string(r.body), ck.Value) {
		t.Fatal("the cookie carries the admin token, or the answer the session token")
	}
	var s struct {
		CSRFToken string `json:"csrfToken"`
	}
	r.json(t, &s)
	cookie := "chatgate_admin=" + ck.Value
	if r := secDo(t, p, "GET", "/admin/", nil, "Cookie", cookie); !bytes.Contains(r.body, []byte(`data-view="main"`)) {
		t.Fatal("/admin/ with the admin session is not the console")
	}
	if r := secDo(t, p, "GET", "/admin/accounts/", nil, "Cookie", cookie); r.status != 200 {
		t.Fatalf("list with the cookie: %d", r.status)
	}
	spec := map[string]any{"displayName": "Mallory", "role": "agent", "password": "mallory-password"}
	csrfRefusal(t, "admin change without the CSRF token", secDo(t, p, "PUT", "/admin/accounts/mallory", spec, "Cookie", cookie))
	csrfRefusal(t, "admin change with a wrong CSRF token", secDo(t, p, "PUT", "/admin/accounts/mallory", spec, "Cookie", cookie, "X-CSRF-Token", "x"+s.CSRFToken))
	csrfRefusal(t, "admin change from another origin", secDo(t, p, "PUT", "/admin/accounts/mallory", spec, "Cookie", cookie, "X-CSRF-Token", s.CSRFToken, "Origin", "https://evil.example"))
	if r := secDo(t, p, "GET", "/admin/accounts/mallory", nil, "Authorization", "Bearer "+secAdminToken); r.status != 404 {
		t.Fatalf("a refused change made the account: %d", r.status)
	}
	if r := secDo(t, p, "PUT", "/admin/accounts/mallory", spec, "Cookie", cookie, "X-CSRF-Token", s.CSRFToken); r.status != 200 {
		t.Fatalf("with the CSRF token: %d %s", r.status, r.body)
	}
	// Bearer: no CSRF token needed.
	if r := secDo(t, p, "DELETE", "/admin/accounts/mallory", nil, "Authorization", "Bearer "+secAdminToken); r.status != 204 {
		t.Fatalf("bearer delete: %d", r.status)
	}
	// A cookie never stands in for a wrong bearer token.
	if r := secDo(t, p, "GET", "/admin/accounts/", nil, "Cookie", cookie, "Authorization", "Bearer wrong"); r.status != 401 {
		t.Fatalf("wrong bearer with a valid cookie: %d", r.status)
	}
	// The audit log: every change (the refused ones too) with who and the answer, newest
	// first, and never the password, the admin token or the session.
	r = secDo(t, p, "GET", "/admin/audit", nil, "Cookie", cookie)
	var log struct {
		Entries []struct {
			Actor                                  struct{ ID, Via, Session string }
			Method, Route, Path, Resource, Summary string
			Status                                 int
		}
	}
	r.json(t, &log)
	var got []string
	for _, e := range log.Entries {
		got = append(got, fmt.Sprintf("%s/%s %s %s %s %d %s: %s", e.Actor.ID, e.Actor.Via, e.Method, e.Route, e.Path, e.Status, e.Resource, e.Summary))
		if e.Actor.Via == "console" && e.Actor.Session == "" {
			t.Errorf("console entry without its session reference: %+v", e)
		}
	}
	want := []string{
		"admin/token DELETE /admin/accounts/{id} /admin/accounts/mallory 204 account mallory: delete",
		"admin/console PUT /admin/accounts/{id} /admin/accounts/mallory 200 account mallory: put role agent, 0 queues, capacity 0, password set",
		"admin/console PUT /admin/accounts/* /admin/accounts/mallory 403 : ", // refused before the inner route matched
		"admin/console PUT /admin/accounts/* /admin/accounts/mallory 403 : ", // refused before the inner route matched
		"admin/console PUT /admin/accounts/* /admin/accounts/mallory 403 : ", // refused before the inner route matched
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, secret := range []string{"mallory-password", secAdminToken, ck.Value, s.CSRFToken} {
		if bytes.Contains(r.body, []byte(secret)) {
			t.Fatalf("the audit log holds a secret (%.8s...): %s", secret, r.body)
		}
	}
	csrfRefusal(t, "admin log out without the CSRF token", secDo(t, p, "DELETE", "/admin/session", nil, "Cookie", cookie))
	if r := secDo(t, p, "DELETE", "/admin/session", nil, "Cookie", cookie, "X-CSRF-Token", s.CSRFToken); r.status != 204 {
		t.Fatalf("admin log out: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/admin/session", "/admin/accounts/"} {
		if r := secDo(t, p, "GET", path, nil, "Cookie", cookie); r.status != 401 {
			t.Fatalf("%s after log out: %d", path, r.status)
		}
	}
}

// TestConsoleCometHandshake: the agent console's handshake is authenticated by the session
// cookie, only with the session's CSRF token in ext and from a page of this origin; the
// session it makes acts for the agent.
func TestConsoleCometHandshake(t *testing.T) {
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--admin-token", secAdminToken)
	spec := map[string]any{"displayName": "Ann", "role": "agent", "queues": []string{restSvc}, "password": "ann-password"}
	if r := secDo(t, p, "PUT", "/admin/accounts/ann", spec, "Authorization", "Bearer "+secAdminToken); r.status != 200 {
		t.Fatal(r.status)
	}
	r := secDo(t, p, "POST", "/agent/v1/session", map[string]string{"id": "ann", "password": "ann-password", "console": "agent"})
	cookie := "chatgate_console=" + sessionCookie(t, r, "chatgate_console", false).Value
	var s struct {
		CSRFToken string `json:"csrfToken"`
	}
	r.json(t, &s)
	origin := "http://" + p.addr
	handshake := func(ext map[string]any, header ...string) (bool, string) {
		msg := []map[string]any{{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": ext}}
		r := secDo(t, p, "POST", "/genesys/cometd/handshake", msg, header...)
		var rep []struct {
			Successful bool
			ClientID   string
			Error      string
		}
		if r.status != 200 {
			return false, ""
		}
		r.json(t, &rep)
		if len(rep) != 1 {
			t.Fatalf("handshake reply %s", r.body)
		}
		return rep[0].Successful, rep[0].ClientID
	}
	for name, c := range map[string]struct {
		ext    map[string]any
		header []string
	}{
		"cross-origin page":    {map[string]any{"agentCsrf": s.CSRFToken}, []string{"Cookie", cookie, "Origin", "https://evil.example"}},
		"cross-site fetch":     {map[string]any{"agentCsrf": s.CSRFToken}, []string{"Cookie", cookie, "Origin", origin, "Sec-Fetch-Site", "cross-site"}},
		"no CSRF token":        {map[string]any{"agentCsrf": ""}, []string{"Cookie", cookie, "Origin", origin}},
		"wrong CSRF token":     {map[string]any{"agentCsrf": "x" + s.CSRFToken}, []string{"Cookie", cookie, "Origin", origin}},
		"no cookie":            {map[string]any{"agentCsrf": s.CSRFToken}, []string{"Origin", origin}},
		"no Origin (a script)": {map[string]any{"agentCsrf": s.CSRFToken}, []string{"Cookie", cookie}},
	} {
		if ok, _ := handshake(c.ext, c.header...); ok {
			t.Errorf("%s: handshake accepted", name)
		}
	}
	ok, id := handshake(map[string]any{"agentCsrf": s.CSRFToken}, "Cookie", cookie, "Origin", origin)
	if !ok {
		t.Fatal("the console's same-origin handshake was refused")
	}
	// The session acts for ann: the service channel sets her presence.
	msg := []map[string]any{{"channel": "/service/agent", "clientId": id, "data": map[string]string{"action": "state", "state": "ready"}}}
	r = secDo(t, p, "POST", "/genesys/cometd", msg, "Cookie", cookie, "Origin", origin)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"ok":true`)) {
		t.Fatalf("service publish: %d %s", r.status, r.body)
	}
	var me struct{ Presence struct{ State string } }
	secDo(t, p, "GET", "/agent/v1/me", nil, "Cookie", cookie).json(t, &me)
	if me.Presence.State != "ready" {
		t.Fatalf("presence %q after the CometD action", me.Presence.State)
	}
}
