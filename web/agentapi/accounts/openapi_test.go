package accounts

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/openapi"
)

// TestOpenAPIMatchesRoutes checks the served document of this API against AdminHandler in
// both directions: every documented operation is routed (not the router's 404 or 405), and
// on every documented path each undocumented method is refused with 405. What the answers
// look like is checked against the binary by TestOpenAPIDescribesRealTraffic (cmd/chatgate).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	raw, err := openapi.File("admin-accounts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("document: %v (openapi %s)", err, doc.OpenAPI)
	}
	ctx := context.Background()
	conn := startNATS(t, t.TempDir())
	defer conn.Close(ctx)
	s := open(t, conn, &clock{})
	auth, err := adminauth.New(adminauth.Options{Token: "admin-test-token"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/admin/accounts", AdminHandler(s, auth)))
	defer srv.Close()
	base := srv.URL + doc.Servers[0].URL
	fill := strings.NewReplacer("{id}", "nobody", "{tokenId}", "0000000000000000")
	paths := doc.Paths.Map()
	if len(paths) == 0 {
		t.Fatal("no paths")
	}
	for path, item := range paths {
		ops := item.Operations()
		for _, method := range []string{"GET", "PUT", "POST", "PATCH", "DELETE"} {
			req, _ := http.NewRequest(method, base+fill.Replace(path), strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer admin-test-token")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			documented := ops[method] != nil
			routed := resp.StatusCode != http.StatusMethodNotAllowed &&
				!(resp.StatusCode == http.StatusNotFound && m["error"] == "no such endpoint")
			switch {
			case documented && !routed:
				t.Errorf("%s %s is documented but not served: %d %v", method, path, resp.StatusCode, m)
			case !documented && routed:
				t.Errorf("%s %s is served (%d) but not documented", method, path, resp.StatusCode)
			case !documented:
				var want []string
				for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
					if ops[m] != nil {
						want = append(want, m)
					}
				}
				if got := strings.Split(resp.Header.Get("Allow"), ", "); resp.StatusCode != 405 || !slices.Equal(got, want) {
					t.Errorf("%s %s: %d Allow %q, want 405 Allow %v", method, path, resp.StatusCode, resp.Header.Get("Allow"), want)
				}
			}
		}
	}
}
