package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// newServer serves the consoles; a request with the header X-Test-Admit: yes is admitted to
// every page (the session checks are web/agentapi's and web/adminauth's, tested there and
// through the binary in cmd/chatgate).
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	admit := func(r *http.Request) bool { return r.Header.Get("X-Test-Admit") == "yes" }
	Register(mux, Admission{Staff: func(r *http.Request, _ string) bool { return admit(r) }, Admin: admit})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestPagesAndTheirAssets fetches each console page, checks its security headers, and
// fetches every script and stylesheet the page references: a page that points at an asset
// the binary does not serve would be a blank console.
func TestPagesAndTheirAssets(t *testing.T) {
	srv := newServer(t)
	ref := regexp.MustCompile(`(?:src|href)="(/[^"]+)"`)
	for _, page := range []string{AgentPath, AdminPath, SupervisorPath} {
		for _, admitted := range []http.Header{nil, {"X-Test-Admit": {"yes"}}} {
			pageAndAssets(t, srv, ref, page, admitted)
		}
	}
}

func pageAndAssets(t *testing.T, srv *httptest.Server, ref *regexp.Regexp, page string, h http.Header) {
	{
		resp, body := get(t, srv.URL+page, h)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", page, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if csp != CSP || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", page, csp)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", page, resp.Header)
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "<style") {
			t.Errorf("%s has inline script or style, which the CSP refuses", page)
		}
		refs := ref.FindAllStringSubmatch(body, -1)
		if len(refs) < 2 {
			t.Fatalf("%s references %d assets", page, len(refs))
		}
		for _, m := range refs {
			a, b := get(t, srv.URL+m[1], nil)
			want := "text/css"
			if strings.HasSuffix(m[1], ".js") {
				want = "text/javascript"
			}
			if a.StatusCode != http.StatusOK || !strings.HasPrefix(a.Header.Get("Content-Type"), want) || len(b) < 100 {
				t.Errorf("%s → %s: %d %q, %d bytes", page, m[1], a.StatusCode, a.Header.Get("Content-Type"), len(b))
			}
		}
	}
}

// TestRevalidation: an unchanged asset answers 304 to its ETag.
func TestRevalidation(t *testing.T) {
	srv := newServer(t)
	resp, _ := get(t, srv.URL+AssetsPath+"agent.js", nil)
	etag := resp.Header.Get("Etag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("headers %v", resp.Header)
	}
	again, body := get(t, srv.URL+AssetsPath+"agent.js", http.Header{"If-None-Match": {etag}})
	if again.StatusCode != http.StatusNotModified || body != "" {
		t.Fatalf("revalidation: %d, %d bytes", again.StatusCode, len(body))
	}
}

// TestOnlyTheConsolePaths: Register claims the pages and the assets, nothing below them
// (/agent/v1/... and /admin/accounts/... belong to the APIs).
func TestOnlyTheConsolePaths(t *testing.T) {
	srv := newServer(t)
	for _, p := range []string{"/agent/v1/me", "/admin/accounts/", "/console/", "/console/nope.js", "/console/../go.mod", "/supervisor/x"} {
		if resp, _ := get(t, srv.URL+p, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
}

// TestPagesBehindTheirRole: without admission a page is its login view only — no data view,
// no console bundle, the login form shown — and with admission the whole page.
func TestPagesBehindTheirRole(t *testing.T) {
	srv := newServer(t)
	for page, bundle := range map[string]string{AgentPath: "agent.js", AdminPath: "admin.js", SupervisorPath: "supervisor.js"} {
		resp, login := get(t, srv.URL+page, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Vary") != "Cookie" {
			t.Fatalf("%s: %d, Vary %q", page, resp.StatusCode, resp.Header.Get("Vary"))
		}
		if strings.Contains(login, `data-view="main"`) || strings.Contains(login, bundle) || !strings.Contains(login, AssetsPath+"login.js") {
			t.Errorf("%s without a session is more than its login view:\n%s", page, login)
		}
		if !regexp.MustCompile(`<section data-view="login" class="login" aria-labelledby="login-h">`).MatchString(login) || !strings.Contains(login, `id="login-form"`) {
			t.Errorf("%s: the login view is not shown:\n%s", page, login)
		}
		_, full := get(t, srv.URL+page, http.Header{"X-Test-Admit": {"yes"}})
		if !strings.Contains(full, `data-view="main"`) || !strings.Contains(full, AssetsPath+bundle) || strings.Contains(full, "login.js") {
			t.Errorf("%s with a session is not the console:\n%s", page, full)
		}
	}
}

// TestLoginViewNeedsAScript: a page without its console script cannot get a login view.
func TestLoginViewNeedsAScript(t *testing.T) {
	if _, err := loginView([]byte(`<html><body><section data-view="login"></section></body></html>`), "agent"); err == nil {
		t.Fatal("a page without a script got a login view")
	}
}
