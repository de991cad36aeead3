package openapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesIndexAndDocuments(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(Prefix, Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(method, path string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("GET", Prefix)
	var index struct{ Documents []Document }
	if err := json.Unmarshal([]byte(body), &index); err != nil || resp.StatusCode != 200 || len(index.Documents) != len(Documents) {
		t.Fatalf("index: %d %s", resp.StatusCode, body)
	}
	for _, d := range Documents {
		resp, body := get("GET", Prefix+d.Name)
		want, _ := File(d.Name)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" || body != string(want) {
			t.Errorf("%s: %d %s", d.Name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !strings.HasPrefix(body, "openapi: 3.1.0\n") {
			t.Errorf("%s is not an OpenAPI 3.1 document", d.Name)
		}
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", Prefix + "nope.yaml", 404},
		{"GET", Prefix + "../go.mod", 404},
		{"POST", Prefix + "workflow.yaml", 405},
	} {
		if resp, _ := get(c.method, c.path); resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}
}
