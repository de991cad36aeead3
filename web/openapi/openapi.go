package openapi

import (
	"embed"
	"encoding/json"
	"net/http"
	"strings"
)

// Prefix is where Handler is mounted.
const Prefix = "/openapi/"

//go:embed gms-chat-v2.yaml workflow.yaml push-admin.yaml admin-options.yaml admin-accounts.yaml
var files embed.FS

// Document is one served OpenAPI document.
type Document struct {
	Name string `json:"name"` // file name under Prefix
	API  string `json:"api"`  // the API it describes
	Base string `json:"base"` // where that API is mounted
}

// Documents lists the served documents.
var Documents = []Document{
	{Name: "gms-chat-v2.yaml", API: "GMS Chat API v2 (REST)", Base: "/genesys/2/chat/"},
	{Name: "workflow.yaml", API: "workflow API", Base: "/workflow/v1/"},
	{Name: "push-admin.yaml", API: "push administration API", Base: "/admin/push/"},
	{Name: "admin-options.yaml", API: "live chat options API", Base: "/admin/options/"},
	{Name: "admin-accounts.yaml", API: "account administration API", Base: "/admin/accounts/"},
}

// Elsewhere are the OpenAPI documents an API serves itself, beside its routes (it embeds
// its document next to its code); the index lists them so one GET finds every document.
var Elsewhere = []Linked{
	{API: "agent API (REST)", URL: "/agent/v1/openapi.json"},
	{API: "standard responses administration API", URL: "/admin/responses/openapi.json"},
}

// Linked is a document served by its API at URL.
type Linked struct {
	API string `json:"api"`
	URL string `json:"url"`
}

// File returns the bytes of a document (as served).
func File(name string) ([]byte, error) { return files.ReadFile(name) }

// Handler serves GET /openapi/ (a JSON index: the documents served here, and under
// "elsewhere" those their APIs serve) and GET /openapi/{name}
// (the document, application/yaml). Mount it at Prefix.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if name == "" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"documents": Documents, "elsewhere": Elsewhere})
			return
		}
		for _, d := range Documents {
			if d.Name == name {
				b, err := files.ReadFile(name)
				if err != nil {
					http.Error(w, "document unreadable", http.StatusInternalServerError)
					return
				}
				w.Header().Set("Content-Type", "application/yaml")
				_, _ = w.Write(b)
				return
			}
		}
		http.NotFound(w, r)
	})
}
