package chatoptions

import "testing"

// FuzzDecodeSections: a PUT body is untrusted. Whatever it is, decoding never panics, and
// what it accepts is bounded, and compiling it (what the API does next) never panics.
func FuzzDecodeSections(f *testing.F) {
	for _, s := range []string{
		`{"settings": {"async-idle-alert": 30}}`,
		`{"routing": {"queue": "vip", "priority": 3}}`,
		`{"inactivity-control": {"enabled": true, "message-alert": "x"}}`,
		`{"settings": {"async-idle-alert": 0}}`, `[]`, `{"a": 1}`, ``,
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, defaults bool) {
		sections, err := DecodeSections(body, defaults)
		if err != nil {
			return
		}
		for _, opts := range sections {
			for _, v := range opts {
				if len(v) > MaxValue {
					t.Fatalf("value of %d bytes accepted", len(v))
				}
			}
		}
		scope := "svc"
		if defaults {
			scope = ""
		}
		// Compiling what was accepted (what a PUT does next) never panics either.
		_, _ = compile(nil, map[string]map[string]map[string]string{scope: sections})
	})
}
