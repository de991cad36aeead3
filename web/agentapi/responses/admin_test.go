package responses

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/chatgate/chatgate/web/adminauth"
)

const adminToken = "responses-admin-token-0123456789"

// contract validates every request and response of a test client against the OpenAPI
// document the handler serves, and records the operations exercised.
type contract struct {
	t      *testing.T
	router routers.Router
	ops    map[string]bool
	// invalid marks the next request as one the document must reject.
	invalid bool
}

func (c *contract) RoundTrip(req *http.Request) (*http.Response, error) {
	c.t.Helper()
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Fatalf("%s %s: no operation in the document: %v", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	err = openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case err != nil && !c.invalid:
		c.t.Errorf("%s %s: request does not match the document: %v", req.Method, req.URL.Path, err)
	case err == nil && c.invalid:
		c.t.Errorf("%s %s %s: an invalid request passes the document", req.Method, req.URL.Path, body)
	}
	c.invalid = false
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	in.Request.Body = io.NopCloser(bytes.NewReader(body))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(rb)), Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s %s: %d response does not match the document: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, rb)
	}
	c.ops[route.Operation.OperationID] = true
	return resp, nil
}

// TestAdminAPI drives the admin handler over HTTP (the real store on the embedded
// JetStream) through every operation, successes and refusals, with every exchange
// validated against the served OpenAPI document by kin-openapi. Every refusal leaves the
// list as it was.
func TestAdminAPI(t *testing.T) {
	s, stop := openStore(t, t.TempDir())
	defer stop()
	auth, err := adminauth.New(adminauth.Options{Token: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/responses/", http.StripPrefix("/admin/responses", AdminHandler(s, auth)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("OpenAPI %s", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	doc.Servers[0].URL = srv.URL + doc.Servers[0].URL
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := &contract{t: t, router: router, ops: map[string]bool{}}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			c.ops[op.OperationID] = false
		}
	}
	client := &http.Client{Transport: c}
	call := func(method, path, auth, body string) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, srv.URL+"/admin/responses"+path, rd)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		b, _ := io.ReadAll(resp.Body)
		if len(b) > 0 {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s %s: not JSON: %s", method, path, b)
			}
		}
		return resp.StatusCode, m
	}
	list := func() string {
		t.Helper()
		code, m := call("GET", "/", adminToken, "")
		if code != 200 {
			t.Fatalf("list: %d %v", code, m)
		}
		b, _ := json.Marshal(m["responses"])
		return string(b)
	}

	if code, m := call("GET", "/", "", ""); code != 401 || m["code"] != "unauthorized" {
		t.Fatalf("no credentials: %d %v", code, m)
	}
	if code, m := call("POST", "/", "wrong-token", `{"name":"x","text":"y"}`); code != 401 || m["code"] != "unauthorized" {
		t.Fatalf("wrong token: %d %v", code, m)
	}
	if got := list(); got != "[]" {
		t.Fatalf("an unauthorized create stored something: %s", got)
	}
	code, greet := call("POST", "/", adminToken, `{"name":"Greeting","shortcut":"/greet","text":"Hello, how can I help?","queues":["support"]}`)
	if code != 201 || greet["shortcut"] != "/greet" || greet["id"] == "" {
		t.Fatalf("create: %d %v", code, greet)
	}
	id := greet["id"].(string)
	before := list()

	// Refusals: 400 with a clear message, 409, 413; nothing changes.
	for _, r := range []struct {
		method, path, body string
		code               int
		errCode, msg       string
		invalid            bool
	}{
		{"POST", "/", `{"text":"no name"}`, 400, "bad_request", "name is required", true},
		{"POST", "/", `{"name":"x","text":"y","shortcut":"greet"}`, 400, "bad_request", `shortcut "greet" must be / followed by 1 to 32 of a-z 0-9 _ - (e.g. /greet)`, true},
		{"POST", "/", `{"name":"x","text":"` + strings.Repeat("a", MaxText+1) + `"}`, 400, "bad_request", "text is longer than 4096 bytes (4097)", true},
		{"POST", "/", `{"name":"x","text":"` + strings.Repeat("é", 2100) + `"}`, 400, "bad_request", "text is longer than 4096 bytes (4200)", false},
		{"POST", "/", `{"name":"a\u0007b","text":"y"}`, 400, "bad_request", "name must be valid UTF-8 without control characters", false},
		{"POST", "/", `{"name":"x","text":"y","color":"red"}`, 400, "bad_request", "body must be one JSON object with name, text and optionally shortcut, services, queues", true},
		{"POST", "/", `{"name":"x","text":"y"} {}`, 400, "bad_request", "body must be one JSON object", false},
		{"POST", "/", `{"name":"Other","shortcut":"/greet","text":"y"}`, 409, "conflict", `shortcut /greet is already used by "Greeting"`, false},
		{"POST", "/", `{"name":"x","text":"` + strings.Repeat("a", MaxAdminBody) + `"}`, 413, "too_large", "request body larger than 32 KiB", true},
		{"PUT", "/" + id, `{"name":"","text":"y"}`, 400, "bad_request", "name is required", true},
		{"PUT", "/" + strings.Repeat("0", 32), `{"name":"x","text":"y"}`, 404, "not_found", "no such standard response", false},
		{"GET", "/nope", "", 404, "not_found", "no such standard response", false},
		{"DELETE", "/" + strings.Repeat("0", 32), "", 404, "not_found", "no such standard response", false},
	} {
		c.invalid = r.invalid
		code, m := call(r.method, r.path, adminToken, r.body)
		if code != r.code || m["code"] != r.errCode || !strings.HasPrefix(m["error"].(string), r.msg) {
			t.Errorf("%s %s %.60s: %d %v, want %d %s %q", r.method, r.path, r.body, code, m, r.code, r.errCode, r.msg)
		}
		if got := list(); got != before {
			t.Fatalf("%s %s %.60s changed the list:\n%s\n%s", r.method, r.path, r.body, before, got)
		}
	}

	code, got := call("GET", "/"+id, adminToken, "")
	if code != 200 || got["text"] != "Hello, how can I help?" {
		t.Fatalf("get: %d %v", code, got)
	}
	code, upd := call("PUT", "/"+id, adminToken, `{"name":"Greeting","shortcut":"/hi","text":"Hi! What can I do for you?","services":["customer-support"]}`)
	if code != 200 || upd["shortcut"] != "/hi" || upd["created"] != greet["created"] || upd["queues"] != nil {
		t.Fatalf("update: %d %v", code, upd)
	}
	// /greet is free again.
	if code, m := call("POST", "/", adminToken, `{"name":"Other","shortcut":"/greet","text":"y"}`); code != 201 {
		t.Fatalf("create with the freed shortcut: %d %v", code, m)
	}
	if code, _ := call("DELETE", "/"+id, adminToken, ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := call("GET", "/"+id, adminToken, ""); code != 404 {
		t.Fatalf("get after delete: %d", code)
	}
	// PATCH is outside the document on purpose: sent without the contract client.
	req, _ := http.NewRequest("PATCH", srv.URL+"/admin/responses/"+id, strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pm map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&pm)
	resp.Body.Close()
	if resp.StatusCode != 405 || pm["code"] != "method_not_allowed" || resp.Header.Get("Allow") != "GET, PUT, DELETE" {
		t.Fatalf("PATCH: %d %v %v", resp.StatusCode, resp.Header, pm)
	}
	if code, _ := call("GET", "/openapi.json", "", ""); code != 200 {
		t.Fatalf("document: %d", code)
	}
	for op, done := range c.ops {
		if !done {
			t.Errorf("operation %s not exercised", op)
		}
	}
}
