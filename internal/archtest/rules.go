package archtest

import (
	"fmt"
	"slices"
	"strings"
)

// Module is the module path the rules apply to; imports outside it are not checked.
const Module = "github.com/chatgate/chatgate"

// component names the architectural part a package belongs to ("" if unclassified).
func component(rel string) string {
	first, _, _ := strings.Cut(rel, "/")
	switch first {
	case "cmd", "web", "bayeux", "chatcore", "push", "internal", "widget", "test":
		return first
	}
	return ""
}

// allowed lists, per component, the components its packages may import (itself included).
var allowed = map[string][]string{
	"cmd":      {"cmd", "web", "bayeux", "chatcore", "push", "widget", "internal"},
	"web":      {"web", "bayeux", "chatcore", "push", "widget", "internal"},
	"bayeux":   {"bayeux", "internal"},
	"chatcore": {"chatcore", "internal"},
	"push":     {"push", "internal"},
	"widget":   {"widget"},
	"internal": {"internal"},
	// test/ holds programs the end-to-end tests run beside the server (the local Web Push
	// service); like a provider's real service they may reuse push's own test fakes, and
	// they reach chatgate over the wire only.
	"test": {"test", "push", "internal"},
}

// Package is the part of `go list -json` the rules read.
type Package struct {
	ImportPath string
	Imports    []string
}

// Violations returns one line per import that breaks the rules, and one per package of the
// module that belongs to no known component (a new top-level directory must be placed in
// the picture before it can be imported from anywhere).
func Violations(pkgs []Package) []string {
	var out []string
	for _, p := range pkgs {
		rel, ok := within(p.ImportPath)
		if !ok {
			continue
		}
		from := component(rel)
		if from == "" {
			out = append(out, fmt.Sprintf("%s: belongs to no component of docs/architecture.md; add it to internal/archtest", rel))
			continue
		}
		for _, imp := range p.Imports {
			to, ok := within(imp)
			if !ok {
				continue
			}
			if why := forbidden(rel, from, to); why != "" {
				out = append(out, fmt.Sprintf("%s imports %s: %s", rel, to, why))
			}
		}
	}
	return out
}

func forbidden(rel, from, to string) string {
	toComp := component(to)
	if !slices.Contains(allowed[from], toComp) {
		return fmt.Sprintf("%s may import only %v", from, allowed[from])
	}
	if isUnder(rel, "cmd/chatgate-load") {
		return "the load generator talks to a server over the wire, not through its packages"
	}
	if isUnder(to, "chatcore/routing") && !isUnder(rel, "chatcore/routing") && from == "chatcore" {
		return "chatcore/routing may import chatcore, never the reverse"
	}
	return ""
}

func within(path string) (string, bool) {
	if path == Module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(path, Module+"/")
	return rel, ok
}

func isUnder(rel, dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }
