package agentapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/internal/testwait"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
	"github.com/chatgate/chatgate/web/agentapi/responses"
	"github.com/chatgate/chatgate/web/idempotency"
)

// validated sends a request to the fixture's API and validates request and response
// against the served OpenAPI document (kin-openapi); want is the documented path template
// the request must be routed to.
func (f *fixture) validated(method, path, token, want string) (int, []byte) {
	f.t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	doc.Servers[0].URL = f.srv.URL + doc.Servers[0].URL
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		f.t.Fatal(err)
	}
	req, _ := http.NewRequest(method, f.srv.URL+Prefix+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	route, params, err := router.FindRoute(req)
	if err != nil || route.Path != want {
		f.t.Fatalf("%s %s: routed to %v (%v), want %s", method, path, route, err, want)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		f.t.Fatalf("%s %s: request does not match the document: %v", method, path, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		f.t.Fatalf("%s %s: %d response does not match the document: %v\n%s", method, path, resp.StatusCode, err, body)
	}
	return resp.StatusCode, body
}

// TestStandardResponsesInScope: each account gets the unscoped responses and those scoped
// to its queues or to services routed to them, nothing else; an admin's edit shows at the
// next read; no token is 401. Every exchange is validated against the OpenAPI document.
func TestStandardResponsesInScope(t *testing.T) {
	f := newFixture(t, "none")
	ctx := context.Background()
	mk := func(sp responses.Spec) responses.Response {
		t.Helper()
		r, err := f.resp.Create(ctx, sp)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	hello := mk(responses.Spec{Name: "Hello", Shortcut: "/hello", Text: "Hello, how can I help?"})
	mk(responses.Spec{Name: "Support refund", Shortcut: "/refund", Text: "Your refund is on its way.", Queues: []string{"support"}})
	mk(responses.Spec{Name: "Sales offer", Text: "10% off today.", Services: []string{"sales"}})
	mk(responses.Spec{Name: "Other queue", Text: "x", Queues: []string{"other"}, Services: []string{"nowhere"}})
	names := func(who string) []string {
		t.Helper()
		code, body := f.validated("GET", "/standard-responses", f.tok[who], "/standard-responses")
		if code != 200 {
			t.Fatalf("%s: %d %s", who, code, body)
		}
		var out []string
		for _, part := range strings.Split(string(body), `"name":"`)[1:] {
			out = append(out, part[:strings.IndexByte(part, '"')])
		}
		if strings.Contains(string(body), `"queues"`) || strings.Contains(string(body), `"services"`) {
			t.Fatalf("%s sees the scope: %s", who, body)
		}
		return out
	}
	for who, want := range map[string][]string{
		"ann":  {"Hello", "Support refund"},
		"bob":  {"Hello", "Sales offer"},
		"carl": {"Hello", "Other queue"},
		"sue":  {"Hello", "Support refund"},
		"bot":  {"Hello", "Support refund"},
	} {
		if got := names(who); !slices.Equal(got, want) {
			t.Errorf("%s sees %q, want %q", who, got, want)
		}
	}
	if _, err := f.resp.Update(ctx, hello.ID, responses.Spec{Name: "Hello", Shortcut: "/hi", Text: "Hi!", Queues: []string{"sales"}}); err != nil {
		t.Fatal(err)
	}
	if got := names("ann"); !slices.Equal(got, []string{"Support refund"}) {
		t.Errorf("ann after the edit: %q", got)
	}
	if got := names("bob"); !slices.Equal(got, []string{"Hello", "Sales offer"}) {
		t.Errorf("bob after the edit: %q", got)
	}
	if code, _ := f.validated("GET", "/standard-responses", "", "/standard-responses"); code != 401 {
		t.Fatalf("no token: %d", code)
	}
}

// TestFileLimitsForAgents: a present agent reads the chat's upload rules (capped by the
// transport ceiling); a stranger is refused, an unknown chat is 404.
func TestFileLimitsForAgents(t *testing.T) {
	f := newFixture(t, "none")
	id := f.newChat(nil).ChatID
	f.act("ann", id, "join", nil, 200)
	code, body := f.validated("GET", "/chats/"+id+"/files/limits", f.tok["ann"], "/chats/{chatId}/files/limits")
	want := `{"maxFileSize":2097152,"fileTypes":["` + strings.ReplaceAll(chatcore.DefaultFileTypes, ":", `","`) + `"]}`
	if code != 200 || strings.TrimSpace(string(body)) != want {
		t.Fatalf("limits: %d %s, want %s", code, body, want)
	}
	if code, _ := f.validated("GET", "/chats/"+id+"/files/limits", f.tok["bob"], "/chats/{chatId}/files/limits"); code != 403 {
		t.Fatalf("stranger: %d", code)
	}
	if code, _ := f.validated("GET", "/chats/NoSuchChat123/files/limits", f.tok["ann"], "/chats/{chatId}/files/limits"); code != 404 {
		t.Fatalf("unknown chat: %d", code)
	}
}

// TestContactHistoryTranscript: an agent handling a customer now reads an earlier chat of
// the same customer it was never in, read-only, through the current chat (its own
// transcript route refuses it); VIP stays hidden from it; a chat of another customer, an
// unknown chat and a caller who may not see the current chat are refused.
func TestContactHistoryTranscript(t *testing.T) {
	f := newFixture(t, "none")
	ctx := context.Background()
	if _, err := f.accts.Put(ctx, "dan", accounts.Spec{DisplayName: "Dan", Role: accounts.RoleAgent, Queues: []string{"support"}, Capacity: 2, Password: "dan-password"}); err != nil {
		t.Fatal(err)
	}
	_, m := f.call("POST", "/login", "", map[string]any{"id": "dan", "password": "dan-password"})
	f.tok["dan"] = m["token"].(string)

	first := f.newChat(nil).ChatID
	f.act("ann", first, "join", nil, 200)
	f.act("ann", first, "send", map[string]any{"text": "your order 4711 ships today"}, 200)
	f.act("ann", first, "send", map[string]any{"text": "note: VIP", "visibility": "INT"}, 200)
	f.act("sue", first, "join", map[string]any{"mode": "monitor"}, 200)
	f.act("sue", first, "send", map[string]any{"text": "supervisors only"}, 200)
	f.act("ann", first, "end", nil, 200)
	testwait.Until(t, 10*time.Second, "the contact index", func() bool {
		now := f.newChat(nil).ChatID
		f.act("dan", now, "join", nil, 200)
		code, h := f.call("GET", "/chats/"+now+"/history", f.tok["dan"], nil)
		if code == 200 && len(h["chats"].([]any)) > 0 {
			f.act("dan", now, "leave", nil, 200)
			return true
		}
		return false
	})
	now := f.newChat(nil).ChatID
	f.act("dan", now, "join", nil, 200)
	if code, _ := f.call("GET", "/chats/"+first+"/transcript", f.tok["dan"], nil); code != 403 {
		t.Fatalf("dan reads the earlier chat directly: %d", code)
	}
	code, body := f.validated("GET", "/chats/"+now+"/history/"+first+"/transcript", f.tok["dan"], "/chats/{chatId}/history/{earlierId}/transcript")
	if code != 200 || !strings.Contains(string(body), "your order 4711 ships today") || !strings.Contains(string(body), "note: VIP") ||
		strings.Contains(string(body), "supervisors only") {
		t.Fatalf("history transcript: %d %s", code, body)
	}
	other, err := f.core.CreateChat(ctx, chatcore.CreateRequest{Service: "support", Nickname: "Else", Email: "someone-else@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who, chat, earlier string
		want               int
	}{
		{"dan", now, other.ChatID, 404},
		{"dan", now, "NoSuchChat123", 404},
		{"dan", now, now, 404},
		{"bob", now, first, 403},
		{"", now, first, 401},
	} {
		if code, _ := f.validated("GET", "/chats/"+c.chat+"/history/"+c.earlier+"/transcript", f.tok[c.who], "/chats/{chatId}/history/{earlierId}/transcript"); code != c.want {
			t.Errorf("%s reads %s via %s: %d, want %d", c.who, c.earlier, c.chat, code, c.want)
		}
	}
}

// TestActionIdempotencyKey: an action sent twice with one Idempotency-Key (a desktop that
// lost the answer, a browser that retried the POST) acts once and repeats the first answer;
// the key with another body is 422; another caller's same key is its own; without the
// header every call acts.
func TestActionIdempotencyKey(t *testing.T) {
	f := newFixture(t, "none")
	id := f.newChat(nil).ChatID
	f.act("ann", id, "join", nil, 200)
	f.act("sue", id, "join", map[string]any{"mode": "barge"}, 200)
	send := func(who, key, text string) (int, bool, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", f.srv.URL+Prefix+"/chats/"+id+"/send", strings.NewReader(`{"text":"`+text+`"}`))
		req.Header.Set("Authorization", "Bearer "+f.tok[who])
		if key != "" {
			req.Header.Set(idempotency.HeaderKey, key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get(idempotency.HeaderReplayed) == "true", string(b)
	}
	messages := func() []string { return customerSees(t, f.core, id) }
	c1, r1, b1 := send("ann", "k-1", "only once")
	c2, r2, b2 := send("ann", "k-1", "only once")
	if c1 != 200 || r1 || c2 != 200 || !r2 || b1 != b2 {
		t.Fatalf("first %d %v, again %d %v\n%s\n%s", c1, r1, c2, r2, b1, b2)
	}
	if c, _, b := send("ann", "k-1", "something else"); c != 422 || !strings.Contains(b, "idempotency_key_reused") {
		t.Fatalf("key reused with another body: %d %s", c, b)
	}
	if c, r, _ := send("sue", "k-1", "only once"); c != 200 || r {
		t.Fatalf("another caller's key: %d %v", c, r)
	}
	send("ann", "", "no key")
	send("ann", "", "no key")
	if got := messages(); !slices.Equal(got, []string{"only once", "only once", "no key", "no key"}) {
		t.Fatalf("messages %q", got)
	}
}
