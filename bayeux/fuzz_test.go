package bayeux

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzDecodeBatch: any body decodes or fails cleanly, and what decodes re-encodes.
func FuzzDecodeBatch(f *testing.F) {
	for _, s := range []string{
		`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["websocket","long-polling"],"id":"1"}]`,
		`{"channel":"/meta/connect","clientId":"abc","connectionType":"long-polling","advice":{"timeout":0},"ext":{"ack":3}}`,
		`message=%5B%7B%22channel%22%3A%22%2Fa%22%7D%5D`,
		`[{"channel":"/meta/subscribe","subscription":["/a/*","/b/**"]}]`,
		`[]`, `[{}]`, `[1]`, `{"id":{"x":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, err := decodeBatch(body, limits{maxMessages: 100, maxMessageBytes: 1 << 16})
		if err != nil {
			return
		}
		for _, m := range msgs {
			if _, err := json.Marshal(m.Message); err != nil {
				t.Fatalf("decoded message does not re-encode: %v", err)
			}
			if m.ID != nil && validID(m.ID) == nil {
				t.Fatalf("invalid id kept: %s", m.ID)
			}
		}
	})
}

// FuzzServeLongPoll: any body through the whole long-polling path never panics and answers
// 200 with a JSON array, or 4xx.
func FuzzServeLongPoll(f *testing.F) {
	for _, s := range []string{
		`[{"channel":"/meta/handshake","version":"1.0"},{"channel":"/meta/subscribe","clientId":"x","subscription":"/a"}]`,
		`[{"channel":"/meta/connect","clientId":"x","advice":{"timeout":-1e300}}]`,
		`[{"channel":"/service/echo","data":{"a":[1,2]}}]`,
		`[{"channel":"/meta/unsubscribe","subscription":5}]`,
	} {
		f.Add(s)
	}
	srv, err := NewServer(Config{TestEcho: true, Timeout: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/cometd", strings.NewReader(body)))
		if rec.Code == http.StatusOK {
			var out []json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("200 with %q", rec.Body.String())
			}
		} else if rec.Code >= 500 && rec.Code != http.StatusInternalServerError {
			t.Fatalf("HTTP %d", rec.Code)
		}
	})
}

// FuzzCheckOrigin: the origin policy on arbitrary Origin, Referer and Host headers never
// panics, and with public origins configured it allows a browser origin only when that origin
// is the public one or the allowed one — whatever the Host says (DNS rebinding) — and echoes
// exactly the Origin it was given.
func FuzzCheckOrigin(f *testing.F) {
	for _, s := range [][4]string{
		{"https://chat.example.com", "", "evil.test", "POST"},
		{"http://evil.test", "", "evil.test", "POST"},
		{"", "https://shop.test/page?x=1", "chat.example.com", "GET"},
		{"", "https://evil.test/", "chat.example.com", "GET"},
		{"", "", "chat.example.com", "GET"},
		{"null", "", "localhost:8080", "POST"},
		{"http://localhost:8080", "", "localhost:8080", "POST"},
		{"https://CHAT.example.com:443", "", "x", "POST"},
		{"https://shop.test/", "", "shop.test", "POST"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	srv, err := NewServer(Config{PublicOrigins: []string{"https://chat.example.com"}, AllowedOrigins: []string{"https://shop.test"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, origin, referer, host, method string) {
		if method != http.MethodGet && method != http.MethodPost {
			method = http.MethodPost
		}
		r := &http.Request{Method: method, Host: host, Header: http.Header{}}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if referer != "" {
			r.Header.Set("Referer", referer)
		}
		r.Header.Set("Cookie", BrowserCookie+"=abcdefghijklmnop")
		echo, ok := srv.checkOrigin(r)
		judged := origin
		if judged == "" {
			judged = referer
		}
		if !ok || judged == "" {
			if !ok && echo != "" {
				t.Fatalf("refused but echoes %q", echo)
			}
			if ok && method == http.MethodGet {
				t.Fatalf("JSONP with a cookie and neither Origin nor Referer allowed")
			}
			return
		}
		if origin != "" && echo != origin {
			t.Fatalf("echoes %q for Origin %q", echo, origin)
		}
		u, err := url.Parse(judged)
		if err != nil {
			t.Fatalf("allowed an unparsable origin %q", judged)
		}
		got := strings.ToLower(u.Scheme + "://" + u.Host)
		if got != "https://chat.example.com" && got != "https://shop.test" && got != "https://shop.test:443" && got != "https://chat.example.com:443" {
			t.Fatalf("allowed %q (Host %q): neither public nor allowed", judged, host)
		}
	})
}
