package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	Register(mux)
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
		resp, body := get(t, srv.URL+page, nil)
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
