package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestModuleImports checks every package of the module as the go command builds it.
func TestModuleImports(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "./...")
	cmd.Dir = "../.." // the module root, from internal/archtest
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p Package
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; expected the whole module", len(pkgs))
	}
	for _, v := range Violations(pkgs) {
		t.Error(v)
	}
}

// TestRules shows each rule rejecting the import it forbids and accepting the allowed ones.
func TestRules(t *testing.T) {
	m := func(rel string) string { return Module + "/" + rel }
	cases := []struct {
		from, to string
		bad      string // substring of the violation, "" when the import is allowed
	}{
		{"cmd/chatgate", "web/gmschat", ""},
		{"cmd/chatgate", "internal/config", ""},
		{"web/gmschat", "chatcore", ""},
		{"web/gmschat", "bayeux", ""},
		{"web", "cmd/chatgate", "web may import only"},
		{"chatcore", "web/gmschat", "chatcore may import only"},
		{"chatcore", "bayeux", "chatcore may import only"},
		{"chatcore", "push", "chatcore may import only"},
		{"chatcore/jetstore", "chatcore", ""},
		{"chatcore", "chatcore/jetstore", ""},
		{"chatcore/routing", "chatcore", ""},
		{"chatcore", "chatcore/routing", "never the reverse"},
		{"chatcore/jetstore", "chatcore/routing/x", "never the reverse"},
		{"bayeux", "chatcore", "bayeux may import only"},
		{"bayeux", "internal/natsserver", ""},
		{"push", "bayeux", "push may import only"},
		{"push/credstore", "push", ""},
		{"internal/config", "web", "internal may import only"},
		{"internal/natsserver", "chatcore", "internal may import only"},
		{"widget", "web", "widget may import only"},
		{"widget", "internal/config", "widget may import only"},
		{"web/widgetsrv", "widget", ""},
		{"cmd/chatgate-load", "bayeux", "over the wire"},
		{"test/webpushfake", "push/pushtest", ""},
		{"test/webpushfake", "web", "test may import only"},
		{"test/webpushfake", "chatcore", "test may import only"},
		{"tools/x", "web", "belongs to no component"},
	}
	for _, c := range cases {
		got := Violations([]Package{{ImportPath: m(c.from), Imports: []string{m(c.to), "net/http"}}})
		switch {
		case c.bad == "" && len(got) != 0:
			t.Errorf("%s → %s: unexpected violation %q", c.from, c.to, got)
		case c.bad != "" && (len(got) != 1 || !strings.Contains(got[0], c.bad)):
			t.Errorf("%s → %s: got %q, want one violation containing %q", c.from, c.to, got, c.bad)
		}
	}
}
