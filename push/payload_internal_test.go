package push

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzAPNsPayload: the hand-written APNs JSON is valid and round-trips every field.
func FuzzAPNsPayload(f *testing.F) {
	f.Add("Anna", "Hello \"you\"\n\u2028", "chatId", "c1")
	f.Add("", "", "k", "\x00\xff")
	f.Fuzz(func(t *testing.T, title, body, k, v string) {
		n := &Notification{Title: title, Body: body, Data: map[string]string{k: v}}
		b, silent := apnsPayload(n)
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", b, err)
		}
		// Like encoding/json: each invalid byte becomes one U+FFFD.
		fix := func(s string) string {
			var sb strings.Builder
			for _, r := range s {
				sb.WriteRune(r)
			}
			return sb.String()
		}
		if k != "aps" {
			if fix(k) != "aps" && got[fix(k)] != fix(v) {
				t.Fatalf("data %q=%q lost in %s", k, v, b)
			}
		}
		aps, _ := got["aps"].(map[string]any)
		if silent {
			if aps["content-available"] != float64(1) {
				t.Fatalf("silent payload %s", b)
			}
			return
		}
		alert, _ := aps["alert"].(map[string]any)
		if alert["body"] != fix(body) || (title != "" && alert["title"] != fix(title)) {
			t.Fatalf("alert %v from %q/%q", alert, title, body)
		}
	})
}
