package jetstore

import (
	"strings"
	"testing"
)

// FuzzCheckID: any id checkID accepts must give a transcript subject of exactly three literal
// tokens with the id in the middle, and an object name with exactly one '/'.
func FuzzCheckID(f *testing.F) {
	for _, s := range []string{"abc", "a.b", "*", ">", "", "chat_1-X", "a b", "é", strings.Repeat("a", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if checkID("chat", id) != nil {
			return
		}
		subj := transcriptSubject(id)
		toks := strings.Split(subj, ".")
		if len(toks) != 3 || toks[0] != "chat" || toks[1] != id || toks[2] != "ev" {
			t.Fatalf("id %q gives subject %q", id, subj)
		}
		if strings.ContainsAny(subj, "*> \t\r\n") {
			t.Fatalf("id %q gives wildcard or spaced subject %q", id, subj)
		}
		if strings.Count(fileObject(id, id), "/") != 1 {
			t.Fatalf("id %q gives object %q", id, fileObject(id, id))
		}
	})
}

func TestCheckID(t *testing.T) {
	for _, ok := range []string{"a", "Z9", "chat-1_x", strings.Repeat("b", 128)} {
		if err := checkID("chat", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a.b", "*", ">", "a b", "a/b", "é", strings.Repeat("b", 129)} {
		if err := checkID("chat", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
