package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated table in docs/configuration.md")

// TestDocs checks that docs/configuration.md documents every setting: the table between the
// reference markers must be exactly what Reference renders from Config. Run with -update
// after adding or changing a field.
func TestDocs(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "configuration.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	begin := strings.Index(doc, ReferenceBegin)
	end := strings.Index(doc, ReferenceEnd)
	if begin < 0 || end < begin {
		t.Fatalf("%s lacks the markers %q ... %q", path, ReferenceBegin, ReferenceEnd)
	}
	want := ReferenceBegin + "\n" + Reference() + ReferenceEnd
	got := doc[begin : end+len(ReferenceEnd)]
	if got != want {
		if *update {
			doc = doc[:begin] + want + doc[end+len(ReferenceEnd):]
			if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("updated %s", path)
			return
		}
		t.Errorf("%s is out of date with internal/config; run: go test ./internal/config -run TestDocs -update", path)
	}
	for _, f := range Fields() {
		if !strings.Contains(doc, "`"+f.Key+"`") || !strings.Contains(doc, f.Env) {
			t.Errorf("%s does not document %s (%s)", path, f.Key, f.Env)
		}
	}
}
