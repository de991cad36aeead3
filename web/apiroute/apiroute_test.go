package apiroute_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/chatgate/chatgate/web"
	"github.com/chatgate/chatgate/web/apiroute"
)

func routes() *apiroute.Router {
	rt := apiroute.New()
	rt.Get("/chats", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "list") })
	rt.Post("/chats", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	rt.Get("/chats/{chatId}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.PathValue("chatId")+"|"+chi.URLParam(r, "chatId")+"|"+chi.URLParam(r, "*"))
	})
	rt.Post("/chats/{chatId}/end", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return rt
}

// The router mounted the way cmd/chatgate mounts the APIs: below the server's chi router
// with http.StripPrefix, over a real listener.
func serve(t *testing.T) *httptest.Server {
	t.Helper()
	srv := web.NewServer(web.ServerOptions{})
	srv.Handle("/api/v1/", http.StripPrefix("/api/v1", routes()))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

type answer struct {
	status int
	header http.Header
	body   string
}

func call(t *testing.T, ts *httptest.Server, method, path string) answer {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func errorBody(t *testing.T, a answer) map[string]string {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q of %d %s", ct, a.status, a.body)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(a.body), &m); err != nil || len(m) != 2 {
		t.Fatalf("error body %q: %v", a.body, err)
	}
	return m
}

func TestNotFoundAndMethodNotAllowedInTheAPIShape(t *testing.T) {
	ts := serve(t)
	for _, p := range []string{"/api/v1/nothing", "/api/v1/chats/c1/nothing", "/api/v1/"} {
		a := call(t, ts, "GET", p)
		if m := errorBody(t, a); a.status != 404 || m["code"] != "not_found" || m["error"] != "no such endpoint" {
			t.Fatalf("%s: %d %s", p, a.status, a.body)
		}
	}
	for _, c := range []struct{ method, path, allow string }{
		{"DELETE", "/api/v1/chats", "GET, POST"},
		{"PUT", "/api/v1/chats/c1", "GET"},
		{"GET", "/api/v1/chats/c1/end", "POST"},
	} {
		a := call(t, ts, c.method, c.path)
		m := errorBody(t, a)
		if a.status != 405 || a.header.Get("Allow") != c.allow || m["code"] != "method_not_allowed" ||
			m["error"] != c.method+" is not allowed here; use "+c.allow {
			t.Fatalf("%s %s: %d Allow=%q %s", c.method, c.path, a.status, a.header.Get("Allow"), a.body)
		}
	}
}

// A method chi does not know: below web.Server the server's router answers it; a router
// served on its own answers 405 with Allow where the path exists, 404 where it does not.
func TestUnknownMethodOnItsOwn(t *testing.T) {
	ts := httptest.NewServer(routes())
	defer ts.Close()
	a := call(t, ts, "BREW", "/chats/c1")
	if m := errorBody(t, a); a.status != 405 || a.header.Get("Allow") != "GET" || m["code"] != "method_not_allowed" {
		t.Fatalf("BREW on a route: %d %v %s", a.status, a.header, a.body)
	}
	a = call(t, ts, "BREW", "/nothing")
	if m := errorBody(t, a); a.status != 404 || m["code"] != "not_found" {
		t.Fatalf("BREW elsewhere: %d %s", a.status, a.body)
	}
}

// The sub-router routes with its own context: HEAD reaches the GET route (the parent's
// routing context says HEAD, which the sub-router has no route for), and the path
// parameters are the sub-router's, without the parent's "*".
func TestOwnRoutingContext(t *testing.T) {
	ts := serve(t)
	if a := call(t, ts, "HEAD", "/api/v1/chats"); a.status != 200 || a.body != "" {
		t.Fatalf("HEAD: %d %q", a.status, a.body)
	}
	if a := call(t, ts, "GET", "/api/v1/chats/c1"); a.status != 200 || a.body != "c1|c1|" {
		t.Fatalf("params: %d %q", a.status, a.body)
	}
	if a := call(t, ts, "POST", "/api/v1/chats"); a.status != 201 {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	if a := call(t, ts, "GET", "/api/v1/chats"); a.status != 200 || !strings.Contains(a.body, "list") {
		t.Fatalf("GET: %d %s", a.status, a.body)
	}
}
