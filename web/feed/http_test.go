package feed

import (
	"encoding/json"
	"net/http"
	"testing"
)

// The feed's router answers like the other JSON APIs (web/apiroute): an unknown path is
// 404 not_found, a known path with another method 405 method_not_allowed with Allow, both in
// the {"error","code"} shape; HEAD is served where GET is; and nothing is answered before
// the admin authentication.
func TestRouterAnswersInTheErrorShape(t *testing.T) {
	e := newEnv(t, WebhookConfig{})
	for _, c := range []struct {
		method, path string
		want         int
		code, allow  string
	}{
		{"GET", "/feed/nothing", 404, "not_found", ""},
		{"GET", "/feed/events/", 404, "not_found", ""},
		{"POST", "/feed/events", 405, "method_not_allowed", "GET"},
		{"DELETE", "/feed/export", 405, "method_not_allowed", "GET"},
		{"PUT", "/feed/webhooks", 405, "method_not_allowed", "GET, POST"},
		{"POST", "/feed/webhooks/w1", 405, "method_not_allowed", "GET, DELETE"},
		{"GET", "/feed/webhooks/w1/dead-letters/replay", 405, "method_not_allowed", "POST"},
		{"HEAD", "/feed/webhooks", 200, "", ""},
	} {
		resp, err := http.DefaultClient.Do(e.req(c.method, c.path, ""))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode != c.want || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want %d Allow %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), c.want, c.allow)
		}
		if c.code != "" && (m["code"] != c.code || m["error"] == nil || resp.Header.Get("Content-Type") != "application/json") {
			t.Errorf("%s %s: body %v (%s), want code %s", c.method, c.path, m, resp.Header.Get("Content-Type"), c.code)
		}
	}
	r := e.req("GET", "/feed/nothing", "")
	r.Header.Del("Authorization")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("unknown path without credentials: %d, want 401", resp.StatusCode)
	}
}
