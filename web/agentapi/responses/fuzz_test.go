package responses

import (
	"encoding/json"
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzSpec: an untrusted admin body decodes or is refused; a Spec that passes Validate
// keeps every documented limit, and normalizing it again changes nothing.
func FuzzSpec(f *testing.F) {
	for _, s := range []string{`{"name":"Greeting","shortcut":"/greet","text":"Hello"}`, `{"name":" a ","shortcut":" /A-b_1 ","text":"x\ny","services":["s"," s"],"queues":["q",""]}`,
		`{"name":"","text":""}`, `{"shortcut":"/"}`, `{"name":"\u0000","text":"\ud800"}`, `{"services":null,"queues":[1]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var sp Spec
		if json.Unmarshal(raw, &sp) != nil {
			return
		}
		n := sp.Normalize()
		if n.Validate() != nil {
			return
		}
		if n.Name == "" || len(n.Name) > MaxName || len(n.Text) > MaxText || !utf8.ValidString(n.Text) ||
			len(n.Services) > MaxScope || len(n.Queues) > MaxScope || (n.Shortcut != "" && !validShortcut(n.Shortcut)) {
			t.Fatalf("valid spec breaks a limit: %+v", n)
		}
		again := n.Normalize()
		if again.Name != n.Name || again.Shortcut != n.Shortcut || again.Text != n.Text || !slices.Equal(again.Services, n.Services) || !slices.Equal(again.Queues, n.Queues) {
			t.Fatalf("normalize not idempotent: %+v → %+v", n, again)
		}
	})
}
