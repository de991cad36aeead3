package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/chatgate/chatgate/web/openapi"
)

// invalidHeader marks a request the test knows to be invalid (stripped before sending).
const invalidHeader = "X-Test-Invalid"

// apiContract is the OpenAPI documents the binary serves, loaded with kin-openapi, and a
// client whose every request and response is validated against them.
type apiContract struct {
	t       *testing.T
	routers []routers.Router
	ops     map[string]bool // operationId → exercised

	mu   sync.Mutex
	seen map[string]int
}

// loadContract fetches the index and every document from the running binary, checks each is
// a valid OpenAPI 3.1 document, and points its servers at the binary.
func loadContract(t *testing.T, p *process) *apiContract {
	t.Helper()
	code, body := httpGet(t, p.url("/openapi/"))
	if code != 200 {
		t.Fatalf("GET /openapi/: %d %s", code, body)
	}
	var index struct {
		Documents []struct{ Name, Base string }
		Elsewhere []struct{ API, URL string }
	}
	if err := json.Unmarshal([]byte(body), &index); err != nil || len(index.Documents) != len(openapi.Documents) ||
		len(index.Elsewhere) != len(openapi.Elsewhere) {
		t.Fatalf("index: %v %s", err, body)
	}
	// The documents an API serves itself are where the index says, and are OpenAPI 3.1.
	for _, l := range index.Elsewhere {
		code, raw := httpGet(t, p.url(l.URL))
		if code != 200 {
			t.Fatalf("GET %s (%s): %d", l.URL, l.API, code)
		}
		doc, err := openapi3.NewLoader().LoadFromData([]byte(raw))
		if err != nil || !doc.IsOpenAPI31OrLater() {
			t.Fatalf("%s: not an OpenAPI 3.1 document: %v", l.URL, err)
		}
	}
	registerFeedDecoders()
	c := &apiContract{t: t, ops: map[string]bool{}, seen: map[string]int{}}
	for _, d := range index.Documents {
		code, raw := httpGet(t, p.url("/openapi/"+d.Name))
		if code != 200 {
			t.Fatalf("GET /openapi/%s: %d", d.Name, code)
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData([]byte(raw))
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		if !doc.IsOpenAPI31OrLater() {
			t.Fatalf("%s is OpenAPI %s, want 3.1", d.Name, doc.OpenAPI)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Fatalf("%s does not validate: %v", d.Name, err)
		}
		// The documents' servers are paths ("/workflow/v1"); the router needs the host.
		for _, s := range doc.Servers {
			s.URL = "http://" + p.addr + strings.TrimSuffix(s.URL, "/")
		}
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			t.Fatalf("%s: router: %v", d.Name, err)
		}
		c.routers = append(c.routers, r)
		for _, item := range doc.Paths.Map() {
			for _, op := range item.Operations() {
				c.ops[op.OperationID] = false
			}
		}
	}
	return c
}

// RoundTrip validates the request, sends it, and validates the response.
func (c *apiContract) RoundTrip(req *http.Request) (*http.Response, error) {
	c.t.Helper()
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	var route *routers.Route
	var params map[string]string
	for _, r := range c.routers {
		if rt, pp, err := r.FindRoute(req); err == nil {
			route, params = rt, pp
			break
		}
	}
	if route == nil {
		c.t.Errorf("%s %s: no operation in the OpenAPI documents", req.Method, req.URL.Path)
		return http.DefaultTransport.RoundTrip(req)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	// A test that sends a request the documents forbid (a missing required field, a bad
	// value) marks it, and then the documents must reject it: they constrain, not only allow.
	invalid := req.Header.Get(invalidHeader) != ""
	req.Header.Del(invalidHeader)
	err := openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case err != nil && !invalid:
		c.t.Errorf("%s %s (%s): request does not match the document: %v", req.Method, req.URL.Path, route.Operation.OperationID, err)
	case err == nil && invalid:
		c.t.Errorf("%s %s (%s): an invalid request passes the document", req.Method, req.URL.Path, route.Operation.OperationID)
	}
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	var respBody []byte
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		respBody = firstEvent(resp.Body) // a stream does not end: its start is what is checked
	} else {
		respBody, _ = io.ReadAll(resp.Body)
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	in.Request.Body = io.NopCloser(bytes.NewReader(reqBody))
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body:    io.NopCloser(bytes.NewReader(respBody)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s %s (%s): %d response does not match the document: %v\n%s", req.Method, req.URL.Path, route.Operation.OperationID, resp.StatusCode, err, respBody)
	}
	c.mu.Lock()
	c.seen[fmt.Sprintf("%s %d", route.Operation.OperationID, resp.StatusCode)]++
	c.ops[route.Operation.OperationID] = true
	c.mu.Unlock()
	return resp, nil
}

// firstEvent reads a Server-Sent Events stream up to the end of its first event with data
// (at most 10 s, then what arrived).
func firstEvent(body io.ReadCloser) []byte {
	stop := time.AfterFunc(10*time.Second, func() { body.Close() })
	defer stop.Stop()
	var out []byte
	br := bufio.NewReader(body)
	data := false
	for {
		line, err := br.ReadBytes('\n')
		out = append(out, line...)
		if err != nil || (data && string(line) == "\n") {
			return out
		}
		data = data || bytes.HasPrefix(line, []byte("data: "))
	}
}

// registerFeedDecoders teaches the validator the feed's media types: NDJSON and event
// streams are text, schema documents are JSON.
var registerFeedDecoders = sync.OnceFunc(func() {
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/schema+json", openapi3filter.JSONBodyDecoder)
})

// TestOpenAPIDescribesRealTraffic drives the real binary through every operation of the
// GMS Chat API v2 (REST), the workflow API, the push administration API, the live chat
// options API and the account administration API — successes and
// failures — with a client that validates every request and response against the OpenAPI
// documents the binary serves at /openapi/. Every operation of the documents must be
// exercised.
func TestOpenAPIDescribesRealTraffic(t *testing.T) {
	const token = "openapi-admin-token-0123456789"
	cfg := writeConfig(t, `{"chat": {"settings": {"session-restore-extend-by": "esp"}},
		"chat.`+restSvc+`": {"client-file-transfer": {"upload-max-files": 2, "upload-file-types": "txt"}}}`)
	env := []string{"CHATGATE_SECRETS_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "CHATGATE_ADMIN_TOKEN=" + token,
		"CHATGATE_WEBHOOK_MAX_ATTEMPTS=1"} // the feed's receiver refuses: dead letters at once
	testStart := time.Now().Add(-time.Minute)
	p := startProcessEnv(t, env, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--config", cfg)
	contract := loadContract(t, p)
	client := &http.Client{Transport: contract}

	invalid := false // the next request is one the documents forbid
	do := func(method, path, ctype string, body []byte, auth string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, p.url(path), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if invalid {
			req.Header.Set(invalidHeader, "1")
			invalid = false
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	form := func(path string, v url.Values) (int, gmsResp) {
		t.Helper()
		code, b := do("POST", path, "application/x-www-form-urlencoded", []byte(v.Encode()), "")
		var r gmsResp
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %d %s", path, code, b)
		}
		return code, r
	}
	base := "/genesys/2/chat/" + restSvc

	// GMS Chat API v2.
	_, created := form(base, url.Values{"firstName": {"Ann"}, "lastName": {"Lee"}, "subject": {"billing"},
		"userData[GCTI_Chat_AsyncMode]": {"true"}, "userData[topic]": {"invoice"}})
	if created.ChatID == "" {
		t.Fatalf("requestChat: %+v", created)
	}
	if code, b := do("POST", base, "application/json", []byte(`{"nickname":"Bob","userData":{"a":"b"}}`), ""); code != 200 {
		t.Fatalf("requestChat with a JSON body: %d %s", code, b)
	}
	chat := base + "/" + created.ChatID
	cred := func(extra ...string) url.Values {
		v := url.Values{"secureKey": {created.SecureKey}, "userId": {created.UserID}, "alias": {created.Alias}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	for _, s := range []struct {
		op     string
		fields []string
	}{
		{"send", []string{"message", "hello", "messageType", "text"}},
		{"startTyping", []string{"message", "hel"}},
		{"stopTyping", nil},
		{"pushUrl", []string{"pushUrl", "https://shop.example.com/cart"}},
		{"updateNickname", []string{"nickname", "Annie"}},
		{"updateData", []string{"userData[orderId]", "42"}},
		{"customNotice", []string{"message", "custom"}},
		{"refresh", []string{"transcriptPosition", "1"}},
		{"refresh", []string{"transcriptPosition", "-2"}},
		{"file/limits", nil},
	} {
		if code, r := form(chat+"/"+s.op, cred(s.fields...)); code != 200 || r.StatusCode != 0 {
			t.Errorf("%s: %d %+v", s.op, code, r)
		}
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for k, v := range cred("userData[file-description]", "notes") {
		_ = mw.WriteField(k, v[0])
	}
	fw, _ := mw.CreateFormFile("file", "notes.txt")
	_, _ = fw.Write([]byte("some notes"))
	_ = mw.Close()
	code, b := do("POST", chat+"/file", mw.FormDataContentType(), mp.Bytes(), "")
	var up gmsResp
	if err := json.Unmarshal(b, &up); err != nil || code != 200 || up.UserData["file-id"] == "" {
		t.Fatalf("upload: %d %s", code, b)
	}
	fileID := up.UserData["file-id"]
	if code, b := do("POST", chat+"/file/"+fileID+"/download", "application/x-www-form-urlencoded", []byte(cred().Encode()), ""); code != 200 || string(b) != "some notes" {
		t.Errorf("download: %d %q", code, b)
	}
	if code, r := form(chat+"/file/"+fileID+"/delete", cred()); code != 200 || r.StatusCode != 0 {
		t.Errorf("delete: %d %+v", code, r)
	}
	// Failures have the same documented shape.
	for _, f := range []struct {
		path    string
		v       url.Values
		want    int
		invalid bool
	}{
		{chat + "/send", cred(), 400, true},                                                // message missing
		{chat + "/send", url.Values{"secureKey": {"wrong"}, "message": {"x"}}, 403, false}, // wrong key
		{chat + "/refresh", cred("transcriptPosition", "1.5"), 400, true},                  // bad position
		{chat + "/file/nope/delete", cred(), 404, false},                                   // unknown file
	} {
		invalid = f.invalid
		if code, r := form(f.path, f.v); code != f.want || r.StatusCode == 0 || len(r.Errors) == 0 {
			t.Errorf("%s: %d %+v, want %d", f.path, code, r, f.want)
		}
	}

	// Workflow API.
	bearer := "Bearer " + token
	if code, b := do("GET", "/workflow/v1/chats/"+created.ChatID, "", nil, bearer); code != 200 {
		t.Errorf("session info: %d %s", code, b)
	}
	if code, b := do("GET", "/workflow/v1/chats?checkDue=1&limit=10", "", nil, bearer); code != 200 {
		t.Errorf("check-due list: %d %s", code, b)
	}
	if code, b := do("POST", "/workflow/v1/chats/"+created.ChatID+"/restore", "application/json", []byte(`{}`), bearer); code != 200 && code != 409 {
		t.Errorf("restore: %d %s", code, b)
	}
	// The workflow's operations, on a chat of their own (the GMS part goes on with the first).
	_, other := form(base, url.Values{"nickname": {"Cy"}, "userData[GCTI_Chat_AsyncMode]": {"true"}})
	wfChat := "/workflow/v1/chats/" + other.ChatID
	bot := map[string]any{"displayName": "FAQ bot", "role": "bot", "queues": []string{restSvc}}
	if st := agentHTTP(t, p, http.MethodPut, "/admin/accounts/faq-bot", token, bot, nil); st != http.StatusOK && st != http.StatusCreated {
		t.Fatalf("PUT bot account: %d", st)
	}
	outOfScope := map[string]any{"displayName": "Elsewhere", "role": "bot", "queues": []string{"elsewhere"}}
	if st := agentHTTP(t, p, http.MethodPut, "/admin/accounts/far-bot", token, outOfScope, nil); st != http.StatusOK && st != http.StatusCreated {
		t.Fatalf("PUT bot account: %d", st)
	}
	for _, f := range []struct {
		path, body string
		want       int
		invalid    bool
	}{
		{wfChat + "/messages", `{"text":"Your order shipped","userData":{"order":"42"}}`, 200, false},
		{wfChat + "/messages", `{"text":""}`, 400, true},
		{wfChat + "/properties", `{"userData":{"segment":"gold"}}`, 200, false},
		{wfChat + "/properties", `{}`, 400, true},
		{wfChat + "/bots", `{"botId":"faq-bot","nickname":"Helper"}`, 200, false},
		{wfChat + "/bots", `{"botId":"faq-bot"}`, 409, false},
		{wfChat + "/bots", `{"botId":"far-bot"}`, 403, false},
		{wfChat + "/bots", `{"nickname":"x"}`, 400, true},
		{wfChat + "/end", `{}`, 200, false},
		{wfChat + "/end", ``, 409, false},
		{wfChat + "/bots", `{"botId":"faq-bot"}`, 409, false},
	} {
		invalid = f.invalid
		if code, b := do("POST", f.path, "application/json", []byte(f.body), bearer); code != f.want {
			t.Errorf("POST %s %s: %d %s, want %d", f.path, f.body, code, b, f.want)
		}
	}
	for _, f := range []struct {
		method, path, auth string
		want               int
		invalid            bool
	}{
		{"GET", "/workflow/v1/chats/" + created.ChatID, "", 401, false},
		{"GET", "/workflow/v1/chats/unknownchat", bearer, 404, false},
		{"GET", "/workflow/v1/chats?checkDue=1&limit=0", bearer, 400, true},
		{"GET", "/workflow/v1/chats", bearer, 400, true},
	} {
		invalid = f.invalid
		if code, b := do(f.method, f.path, "", nil, f.auth); code != f.want {
			t.Errorf("%s %s: %d %s, want %d", f.method, f.path, code, b, f.want)
		}
	}

	// The event feed: schemas, a webhook whose receiver refuses (dead letters, replay), the
	// event stream, the export and the summaries.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not now", http.StatusServiceUnavailable)
	}))
	defer refusing.Close()
	code, b = do("POST", "/workflow/v1/feed/webhooks", "application/json", []byte(`{"url":"`+refusing.URL+`/hook","types":["Notice"]}`), bearer)
	var hook struct{ ID, Secret string }
	if err := json.Unmarshal(b, &hook); err != nil || code != 201 || hook.Secret == "" {
		t.Fatalf("create webhook: %d %s", code, b)
	}
	hookPath := "/workflow/v1/feed/webhooks/" + hook.ID
	if code, b := do("POST", "/workflow/v1/chats/"+created.ChatID+"/messages", "application/json", []byte(`{"text":"for the feed"}`), bearer); code != 200 {
		t.Fatalf("system message: %d %s", code, b)
	}
	eventually(t, 20*time.Second, "the refused record dead-lettered", func() bool {
		_, b := do("GET", hookPath+"/dead-letters?limit=10", "", nil, bearer)
		return strings.Contains(string(b), `"attempts":1`)
	})
	rng := "from=" + url.QueryEscape(testStart.UTC().Format(time.RFC3339Nano)) + "&to=" + url.QueryEscape(time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano))
	for _, f := range []struct {
		method, path, body string
		want               int
		invalid            bool
		ctype              string
	}{
		{"GET", "/workflow/v1/feed/schemas/record.v1.schema.json", "", 200, false, "application/schema+json"},
		{"GET", "/workflow/v1/feed/schemas/summary.v1.schema.json", "", 200, false, "application/schema+json"},
		{"GET", "/workflow/v1/feed/schemas/other.json", "", 404, true, ""},
		{"GET", "/workflow/v1/feed/webhooks", "", 200, false, ""},
		{"GET", hookPath, "", 200, false, ""},
		{"GET", "/workflow/v1/feed/webhooks/0123456789abcdef", "", 404, false, ""},
		{"POST", "/workflow/v1/feed/webhooks", `{"url":"ftp://example.com/x"}`, 400, false, ""},
		{"POST", "/workflow/v1/feed/webhooks", `{"secret":"0123456789abcdef"}`, 400, true, ""},
		{"GET", hookPath + "/dead-letters?limit=0", "", 400, true, ""},
		{"POST", hookPath + "/dead-letters/replay?limit=10", "", 200, false, ""},
		{"GET", "/workflow/v1/feed/events?from=1&types=Message", "", 200, false, "text/event-stream"},
		{"GET", "/workflow/v1/feed/events?from=0", "", 400, true, ""},
		{"GET", "/workflow/v1/feed/export?" + rng, "", 200, false, "application/x-ndjson"},
		{"GET", "/workflow/v1/feed/export?from=" + url.QueryEscape(testStart.UTC().Format(time.RFC3339)), "", 400, true, ""},
		{"GET", "/workflow/v1/feed/summaries?" + rng, "", 200, false, "application/json"},
		{"GET", "/workflow/v1/feed/summaries?" + rng + "&format=csv", "", 200, false, "text/csv; charset=utf-8; header=present"},
		{"GET", "/workflow/v1/feed/summaries?" + rng + "&format=xml", "", 400, true, ""},
		{"DELETE", hookPath, "", 204, false, ""},
		{"GET", hookPath, "", 404, false, ""},
	} {
		invalid = f.invalid
		ctype := ""
		if f.body != "" {
			ctype = "application/json"
		}
		req, _ := http.NewRequest(f.method, p.url(f.path), strings.NewReader(f.body))
		if invalid {
			req.Header.Set(invalidHeader, "1")
			invalid = false
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		req.Header.Set("Authorization", bearer)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != f.want || (f.ctype != "" && resp.Header.Get("Content-Type") != f.ctype) {
			t.Errorf("%s %s: %d %s %.200s, want %d %s", f.method, f.path, resp.StatusCode, resp.Header.Get("Content-Type"), b, f.want, f.ctype)
		}
		if f.ctype == "text/event-stream" && !bytes.Contains(b, []byte("\ndata: {")) {
			t.Errorf("event stream without a record: %q", b)
		}
	}

	// Push administration API.
	if code, b := do("POST", "/admin/push/credentials/webpush/default/generate", "application/json", []byte(`{"subject":"mailto:ops@example.com"}`), bearer); code != 200 {
		t.Errorf("generate: %d %s", code, b)
	}
	for _, f := range []struct {
		method, path string
		body         string
		auth         string
		want         int
	}{
		{"GET", "/admin/push/credentials", "", bearer, 200},
		{"GET", "/admin/push/credentials/webpush/default", "", bearer, 200},
		{"GET", "/admin/push/stats", "", bearer, 200},
		{"GET", "/admin/push/status", "", bearer, 200},
		{"PUT", "/admin/push/credentials/customhttp/hook", `{"url":"https://hooks.example.com/push","authorization":"Bearer x"}`, bearer, 200},
		{"PUT", "/admin/push/credentials/apns/default", `{"authKeyP8":"nope","keyId":"ABC123DEFG","teamId":"TEAM123456","topic":"x"}`, bearer, 400}, // valid shape, bad key
		{"GET", "/admin/push/credentials/fcm/none", "", bearer, 404},
		{"GET", "/admin/push/credentials", "", "Bearer wrong", 401},
		{"DELETE", "/admin/push/credentials/customhttp/hook", "", bearer, 204},
	} {
		ctype := ""
		if f.body != "" {
			ctype = "application/json"
		}
		if code, b := do(f.method, f.path, ctype, []byte(f.body), f.auth); code != f.want {
			t.Errorf("%s %s: %d %s, want %d", f.method, f.path, code, b, f.want)
		}
	}

	// Live chat options API.
	opts := "/admin/options/services/" + restSvc
	for _, f := range []struct {
		method, path, body, auth string
		want                     int
		invalid                  bool
	}{
		{"GET", "/admin/options/services", "", bearer, 200, false},
		{"GET", "/admin/options/defaults", "", bearer, 200, false},
		{"PUT", "/admin/options/defaults", `{"inactivity-control":{"timeout-alert":300,"enabled":false}}`, bearer, 200, false},
		{"DELETE", "/admin/options/defaults", "", bearer, 200, false},
		{"GET", opts, "", bearer, 200, false},
		{"GET", opts, "", "", 401, false},
		{"PUT", opts, `{"settings":{"async-idle-alert":"600"},"routing":{"queue":"sales","priority":2}}`, bearer, 200, false},
		{"PUT", opts, `{"settings":{"async-idle-alert":0}}`, bearer, 400, false},      // valid shape, value out of range
		{"PUT", opts, `{"settings":{"async-idle-alert":{"s":1}}}`, bearer, 400, true}, // not a scalar
		{"DELETE", opts, "", bearer, 200, false},
	} {
		invalid = f.invalid
		ctype := ""
		if f.body != "" {
			ctype = "application/json"
		}
		if code, b := do(f.method, f.path, ctype, []byte(f.body), f.auth); code != f.want {
			t.Errorf("%s %s %s: %d %s, want %d", f.method, f.path, f.body, code, b, f.want)
		}
	}

	// Account administration API: the life of an account and its token, then refusals.
	acct := "/admin/accounts/openapi-agent"
	spec := `{"displayName":"OpenAPI Agent","role":"agent","queues":["support"],"capacity":2,"password":"not-a-real-password"}`
	for _, f := range []struct {
		method, path, body, auth string
		want                     int
		invalid                  bool
	}{
		{"PUT", acct, spec, bearer, 200, false},
		{"GET", acct, "", bearer, 200, false},
		{"PUT", acct, `{"displayName":"OpenAPI Agent","role":"supervisor","disabled":true}`, bearer, 200, false}, // keeps the password
		{"GET", "/admin/accounts/", "", bearer, 200, false},
		{"GET", "/admin/accounts/", "", "", 401, false},
		{"PUT", acct, `{"displayName":"A","role":"king"}`, bearer, 400, true},                                  // not a role
		{"PUT", acct, `{"displayName":"A","role":"agent","bogus":1}`, bearer, 400, true},                       // unknown field
		{"PUT", acct, `{"displayName":"` + strings.Repeat("é", 100) + `","role":"agent"}`, bearer, 400, false}, // 100 characters, 200 bytes
		{"PUT", "/admin/accounts/bad!id", spec, bearer, 400, true},                                             // not an id
		{"GET", "/admin/accounts/nobody", "", bearer, 404, false},
		{"POST", "/admin/accounts/nobody/tokens", `{"label":"x"}`, bearer, 404, false},
		{"POST", acct + "/tokens", `{"label":"x","scope":"all"}`, bearer, 400, true},
	} {
		invalid = f.invalid
		ctype := ""
		if f.body != "" {
			ctype = "application/json"
		}
		if code, b := do(f.method, f.path, ctype, []byte(f.body), f.auth); code != f.want {
			t.Errorf("%s %s %s: %d %s, want %d", f.method, f.path, f.body, code, b, f.want)
		}
	}
	var tokAns struct {
		Token string
		Ref   struct{ ID string }
	}
	code, b = do("POST", acct+"/tokens", "application/json", []byte(`{"label":"openapi"}`), bearer)
	if err := json.Unmarshal(b, &tokAns); err != nil || code != 201 || tokAns.Ref.ID == "" {
		t.Fatalf("token: %d %s", code, b)
	}
	if code, b := do("GET", acct, "", nil, bearer); code != 200 || !strings.Contains(string(b), tokAns.Ref.ID) || strings.Contains(string(b), tokAns.Token) {
		t.Errorf("account after the token: %d %s", code, b)
	}
	for _, f := range []struct {
		method, path string
		want         int
	}{
		{"DELETE", acct + "/tokens/" + tokAns.Ref.ID, 204},
		{"DELETE", acct + "/tokens/" + tokAns.Ref.ID, 404},
		{"DELETE", acct, 204},
		{"DELETE", acct, 404},
		{"GET", acct, 404},
	} {
		if code, b := do(f.method, f.path, "", nil, bearer); code != f.want {
			t.Errorf("%s %s: %d %s, want %d", f.method, f.path, code, b, f.want)
		}
	}

	// GMS disconnect last: the chat ends, and reading it afterwards is still documented.
	if code, r := form(chat+"/disconnect", cred()); code != 200 || r.StatusCode != 0 {
		t.Errorf("disconnect: %d %+v", code, r)
	}
	if code, r := form(chat+"/send", cred("message", "late")); code != 200 || !r.ChatEnded {
		t.Errorf("send after the end: %d %+v", code, r)
	}

	var missing []string
	for op, done := range contract.ops {
		if !done {
			missing = append(missing, op)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("operations of the documents not exercised: %v", missing)
	}
	t.Logf("validated exchanges: %v", contract.seen)
}
