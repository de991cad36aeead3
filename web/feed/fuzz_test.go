package feed

import (
	"strings"
	"testing"
)

// FuzzSubjectToken: whatever a chat id holds, it becomes exactly one NATS subject token, and
// different ids never share a token.
func FuzzSubjectToken(f *testing.F) {
	for _, s := range []string{"L5OJrlK9B3gcDv7B", "", "a.b", "*", ">", "x_", "a b", "\x00"} {
		f.Add(s, "other")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ta := subjectToken(a)
		if ta == "" || strings.ContainsAny(ta, ".*> \t\r\n\x00") {
			t.Fatalf("%q → %q is not one subject token", a, ta)
		}
		if a != b && ta == subjectToken(b) {
			t.Fatalf("%q and %q share token %q", a, b, ta)
		}
	})
}

// FuzzParseFilter: query values become filters without empty or padded entries.
func FuzzParseFilter(f *testing.F) {
	f.Add("Message,properties", "sales, support")
	f.Add(",,", " ")
	f.Fuzz(func(t *testing.T, types, services string) {
		flt := ParseFilter(types, services)
		for _, v := range append(flt.Types, flt.Services...) {
			if v == "" || strings.TrimSpace(v) != v {
				t.Fatalf("entry %q", v)
			}
		}
	})
}
