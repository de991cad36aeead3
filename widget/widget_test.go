package widget

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// A transport that does not add or strip Accept-Encoding on its own.
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

func mux(o Options) *http.ServeMux {
	m := http.NewServeMux()
	Register(m, o)
	return m
}

func TestScriptIsTheCommittedBundle(t *testing.T) {
	res := get(t, mux(Options{}), http.MethodGet, ScriptPath, nil)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/javascript; charset=utf-8",
		"Cache-Control":          "public, max-age=300",
		"X-Content-Type-Options": "nosniff",
		"Vary":                   "Accept-Encoding",
		"ETag":                   `"` + Version() + `"`,
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	body, _ := io.ReadAll(res.Body)
	file, err := os.ReadFile("dist/chatgate.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, file) || len(body) == 0 {
		t.Fatalf("served %d bytes, dist/chatgate.js has %d", len(body), len(file))
	}
	if !bytes.Contains(body, []byte("ChatGate")) {
		t.Fatal("the bundle does not define ChatGate")
	}
}

// TestWorkerServed: the Web Push service worker is served as written (a worker is its own
// script, not part of the bundle), revalidated on every check (no-cache), with a query
// string (the page's ?open=) on the same route.
func TestWorkerServed(t *testing.T) {
	res := get(t, mux(Options{}), http.MethodGet, WorkerPath+"?open=%2Fshop", nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
		res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("status %d, headers %v", res.StatusCode, res.Header)
	}
	body, _ := io.ReadAll(res.Body)
	file, err := os.ReadFile("src/sw.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, file) || !bytes.Contains(body, []byte(`addEventListener("notificationclick"`)) {
		t.Fatalf("served %d bytes, src/sw.js has %d", len(body), len(file))
	}
}

func TestScriptGzipAndRevalidation(t *testing.T) {
	h := mux(Options{})
	res := get(t, h, http.MethodGet, ScriptPath, map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, bundle) {
		t.Fatal("gzip body does not decode to the bundle")
	}
	if res := get(t, h, http.MethodGet, ScriptPath, map[string]string{"Accept-Encoding": "gzip;q=0"}); res.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 must not get gzip")
	}
	etag := res.Header.Get("ETag")
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		r := get(t, h, http.MethodGet, ScriptPath, map[string]string{"If-None-Match": inm})
		if r.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match %s: status %d, want 304", inm, r.StatusCode)
		}
	}
	if r := get(t, h, http.MethodGet, ScriptPath, map[string]string{"If-None-Match": `"stale"`}); r.StatusCode != 200 {
		t.Errorf("stale ETag: status %d", r.StatusCode)
	}
	head := get(t, h, http.MethodHead, ScriptPath, nil)
	if head.StatusCode != 200 || head.Header.Get("Content-Length") != strconv.Itoa(len(bundle)) {
		t.Errorf("HEAD: status %d, length %s", head.StatusCode, head.Header.Get("Content-Length"))
	}
	if r := get(t, h, http.MethodPost, ScriptPath, nil); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", r.StatusCode)
	}
}

func TestDemoPage(t *testing.T) {
	res := get(t, mux(Options{DemoPage: true}), http.MethodGet, "/", nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "default-src 'none'", "frame-ancestors 'none'", "worker-src 'self' blob:"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	body, _ := io.ReadAll(res.Body)
	if !bytes.Contains(body, []byte(`<script src="/widget/chatgate.js" data-service="customer-support">`)) {
		t.Error("the demo page does not embed the widget")
	}
	if r := get(t, mux(Options{DemoPage: true}), http.MethodGet, "/other", nil); r.StatusCode != 404 {
		t.Errorf("/other: status %d, want 404 (the demo owns / only)", r.StatusCode)
	}
}

func TestDemoPageOff(t *testing.T) {
	h := mux(Options{DemoPage: false})
	if r := get(t, h, http.MethodGet, "/", nil); r.StatusCode != 404 {
		t.Errorf("demo off: / status %d, want 404", r.StatusCode)
	}
	if r := get(t, h, http.MethodGet, ScriptPath, nil); r.StatusCode != 200 {
		t.Errorf("demo off: script status %d, want 200", r.StatusCode)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for in, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip": true, "gzip;q=0": false, "gzip; q=0.5": true,
		"gzip;q=x": false, "x-gzip": false, "br": false, "identity, *;q=0": false,
	} {
		if got := acceptsGzip(in); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", in, got, want)
		}
	}
}

// budgetGzip is the size budget of the bundle as served gzipped, CometD client included
// (docs/benchmarks.md, section Widget).
const budgetGzip = 45 << 10

func TestBundleWithinBudget(t *testing.T) {
	a := newAsset(bundle, "text/javascript", "", nil)
	t.Logf("bundle %d bytes, %d gzipped as served", len(a.body), len(a.gz))
	if len(a.gz) > budgetGzip {
		t.Fatalf("the widget is %d bytes gzipped, over the budget of %d", len(a.gz), budgetGzip)
	}
}
