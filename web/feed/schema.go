package feed

import (
	"embed"
	"net/http"
	"path"

	"github.com/chatgate/chatgate/web/apijson"
)

// Schema file names (served at /workflow/v1/feed/schemas/<name>).
const (
	RecordSchema  = "record.v1.schema.json"
	SummarySchema = "summary.v1.schema.json"
)

// The JSON Schemas (draft 2020-12) of the records and the summaries: committed next to the
// code that writes them, embedded so a consumer validates against the build it reads from.
//
//go:embed schema/*.schema.json
var schemas embed.FS

// SchemaFile returns a schema document as served.
func SchemaFile(name string) ([]byte, error) { return schemas.ReadFile(path.Join("schema", name)) }

func (a *API) schema(w http.ResponseWriter, r *http.Request) {
	b, err := SchemaFile(r.PathValue("name"))
	if err != nil {
		apijson.Error(w, http.StatusNotFound, apijson.CodeNotFound, "no such schema")
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	_, _ = w.Write(b)
}
