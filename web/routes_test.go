package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// holdUntilCancelled answers "done" after hold, or nothing once the request's context is
// cancelled (then the route group's timeout answers 504).
func holdUntilCancelled(hold time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(hold):
			_, _ = io.WriteString(w, "done")
		case <-r.Context().Done():
		}
	}
}

// TestRouteGroupTimeouts: a GMS REST or admin request is cancelled at request-timeout
// and answered 504; /genesys/cometd and the feed's event stream have no timeout, so a connect held longer than that
// completes; paths outside every group have none either.
func TestRouteGroupTimeouts(t *testing.T) {
	const timeout = 200 * time.Millisecond
	hold := holdUntilCancelled(3 * timeout)
	s := NewServer(ServerOptions{RequestTimeout: timeout, Bayeux: hold})
	s.Handle("POST /genesys/2/chat/", hold)
	s.Handle("/workflow/v1/", hold)
	s.Handle("/workflow/v1/feed/", hold)
	s.Handle("GET /workflow/v1/feed/events", hold)
	s.Handle("GET /workflow/v1/feed/summaries", hold)
	s.Handle("GET /widget/chatgate.js", hold)
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"POST", "/genesys/2/chat/svc", 504, ""},
		{"GET", "/workflow/v1/chats", 504, ""},
		{"GET", "/workflow/v1/feed/webhooks", 504, ""},
		{"GET", "/workflow/v1/feed/events", 200, "done"},    // a stream (StreamPaths)
		{"GET", "/workflow/v1/feed/summaries", 200, "done"}, // a range of any size (StreamPaths)
		{"POST", "/genesys/cometd/connect", 200, "done"},
		{"POST", "/genesys/cometd", 200, "done"},
		{"GET", "/widget/chatgate.js", 200, "done"},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader("[]"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || string(b) != tc.body {
			t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.body)
		}
	}
}

// TestServeMuxPatterns: Handle keeps the ServeMux pattern meanings the adapters rely on.
func TestServeMuxPatterns(t *testing.T) {
	s := NewServer(ServerOptions{})
	echo := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name+" "+r.PathValue("kind"))
		}
	}
	s.Handle("GET /{$}", echo("root"))
	s.Handle("/admin/push/", echo("subtree"))
	s.Handle("PUT /x/{kind}/item", echo("param"))
	s.Handle("/genesys/2/chat-ntf", echo("exact"))
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/", 200, "root "},
		{"GET", "/other", 404, ""},
		{"GET", "/admin/push/", 200, "subtree "},
		{"DELETE", "/admin/push/credentials/a/b", 200, "subtree "},
		{"PUT", "/x/apns/item", 200, "param apns"},
		{"GET", "/x/apns/item", 405, ""},
		{"POST", "/genesys/2/chat-ntf", 200, "exact "},
		{"HEAD", "/healthz", 200, ""},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || (tc.code == 200 && string(b) != tc.body) {
			t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.body)
		}
	}
}

// TestPanicIsRecoveredAndLogged: a panicking handler answers 500 (the connection stays
// usable), and the panic is logged through slog with the request id.
func TestPanicIsRecoveredAndLogged(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s := NewServer(ServerOptions{Logger: log})
	s.HandleFunc("POST /genesys/2/chat/{service}", func(http.ResponseWriter, *http.Request) {
		panic("boom")
	})
	ts := httptest.NewServer(s)
	defer ts.Close()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", ts.URL+"/genesys/2/chat/svc", nil)
	req.Header.Set("X-Request-Id", "req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("panic answered %d", resp.StatusCode)
	}
	if code, _ := get(t, ts.URL+HealthzPath); code != 200 {
		t.Fatalf("healthz after a panic = %d", code)
	}
	out := logs.String()
	for _, want := range []string{`msg="http handler panic"`, "panic=boom", "request_id=req-42", "path=/genesys/2/chat/svc"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestChatCreateLimitOnlyOnCreation: with the creation limiter installed beside the GMS
// REST subtree, only POST /genesys/2/chat/{service}[/] is limited; other methods and the
// operations below a chat still reach the subtree handler.
func TestChatCreateLimitOnlyOnCreation(t *testing.T) {
	s := NewServer(ServerOptions{RateLimits: RateLimits{ChatCreatesPerMinute: 1}})
	s.Handle(chatRESTSubtree, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path)
	}))
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"POST", "/genesys/2/chat/svc", 200},
		{"POST", "/genesys/2/chat/svc/", 429},
		{"POST", "/genesys/2/chat/svc", 429},
		{"GET", "/genesys/2/chat/svc", 200},
		{"POST", "/genesys/2/chat/svc/chat1/send", 200},
		{"POST", "/genesys/2/chat/svc/chat1/refresh/", 200},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || (tc.code == 200 && string(b) != tc.method+" "+tc.path) {
			t.Errorf("%s %s = %d %q", tc.method, tc.path, resp.StatusCode, b)
		}
	}
	if n := s.metricLabeled(t, "chatgate_http_rate_limited_total", "chat_create"); n != 2 {
		t.Errorf("chat_create refusals = %v", n)
	}
}

// metricLabeled reads the counter name{limit=label}.
func (s *Server) metricLabeled(t *testing.T, name, label string) float64 {
	t.Helper()
	mfs, err := s.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "limit" && lp.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{limit=%q}", name, label)
	return 0
}
