package gmschat

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestServeRESTRejects checks requests refused before any chat operation: the backend is nil,
// so reaching it would fail the test.
func TestServeRESTRejects(t *testing.T) {
	a := NewAdapter(nil, nil, Options{
		Services: func(n string) bool { return n == "customer-support" },
		Limits:   Limits{MaxBodyBytes: 1024, MaxValueBytes: 100},
	})
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cases := []struct {
		method, path, ct, body string
		status                 int
		code                   Code
	}{
		{http.MethodGet, "/genesys/2/chat/customer-support/c1/refresh", "", "", 405, CodeMethodNotAllowed},
		{http.MethodPost, "/genesys/2/chat/other", "application/x-www-form-urlencoded", "nickname=n", 404, CodeUnknownService},
		{http.MethodPost, "/genesys/2/chat/customer-support/c1/explode", "application/x-www-form-urlencoded", "secureKey=k", 404, CodeUnknownOperation},
		{http.MethodPost, "/genesys/2/chat/customer-support", "text/plain", "nickname=n", 415, CodeUnsupportedMedia},
		{http.MethodPost, "/genesys/2/chat/customer-support/c1/send", "application/x-www-form-urlencoded", "secureKey=k&message=" + strings.Repeat("x", 101), 413, CodeMessageTooLarge},
		{http.MethodPost, "/genesys/2/chat/customer-support/c1/send", "application/x-www-form-urlencoded", "secureKey=k&a=" + strings.Repeat("x", 2000), 413, CodeBodyTooLarge},
		{http.MethodPost, "/genesys/2/chat/customer-support/c1/send", "application/x-www-form-urlencoded", "message=hi", 401, CodeMissingCredentials},
		{http.MethodPost, "/genesys/2/chat/customer-support", "application/x-www-form-urlencoded", "subject=s", 400, CodeMissingField},
		{http.MethodPost, "/genesys/2/chat-ntf", "application/x-www-form-urlencoded", "operation=nope&secureKey=k", 404, CodeUnknownOperation},
	}
	for _, c := range cases {
		t.Run(c.method+c.path, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			if c.ct != "" {
				req.Header.Set("Content-Type", c.ct)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body ErrorBody
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != c.status || len(body.Errors) != 1 || body.Errors[0].Code != c.code {
				t.Fatalf("HTTP %d %+v, want %d code %d", res.StatusCode, body, c.status, c.code)
			}
		})
	}
}
