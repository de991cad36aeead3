package config

import (
	"fmt"
	"strings"
)

// Reference markers delimit the generated table in docs/configuration.md.
const (
	ReferenceBegin = "<!-- BEGIN GENERATED: go test ./internal/config -run TestDocs -update -->"
	ReferenceEnd   = "<!-- END GENERATED -->"
)

// Reference renders the table of every setting (key, flag, environment variable, type,
// default, meaning) that docs/configuration.md embeds between the reference markers.
func Reference() string {
	var b strings.Builder
	def := Default()
	b.WriteString("| key / flag | environment | type | default | meaning |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, f := range Fields() {
		d := defaultString(def, f)
		switch {
		case f.Kind == "secret":
			d = "(unset)"
		case d == "":
			d = "(empty)"
		default:
			d = "`" + d + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s |\n", f.Key, f.Env, f.Kind, d, strings.ReplaceAll(f.Help, "|", `\|`))
	}
	return b.String()
}
