package bayeux

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
