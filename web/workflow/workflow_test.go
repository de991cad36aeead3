package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/jetstore"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/apijson"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "workflow-test-token-0123456789"

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// services are the options per service: "esp" lets the workflow restore, "none" does not.
type services struct {
	mu sync.Mutex
	m  map[string]chatcore.Options
}

func (s *services) Options(service string) chatcore.Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[service]
}

// env is the real chat core on embedded JetStream (manual clock) behind the API.
type env struct {
	t     *testing.T
	core  *chatcore.Core
	clock *chatcore.ManualClock
	opts  *services
	srv   *httptest.Server
	conn  *natsserver.Conn
	store *jetstore.Store
	auth  *adminauth.Credentials
	api   atomic.Pointer[http.Handler]

	mu    sync.Mutex
	props map[string]map[string]string // latest properties per chat, from the listener
	poke  chan struct{}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	conn, err := natsserver.Start(ctx, natsserver.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	store, err := jetstore.Open(ctx, conn, jetstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := chatcore.DefaultOptions()
	base.Settings.AsyncIdleAlert = 100 * time.Second
	base.Settings.AsyncIdleClose = 50 * time.Second
	base.Settings.AsyncCheckAtMargin = 10 * time.Second
	base.Settings.FlexDisconnectTimeout = 1728000 * time.Second
	base.Settings.FlexPushTimeout = 1728000 * time.Second
	esp := base
	esp.Settings.SessionRestoreExtendBy = "esp"
	agent := base
	agent.Settings.SessionRestoreExtendBy = "agent"
	e := &env{t: t, conn: conn, clock: chatcore.NewManualClock(t0), props: map[string]map[string]string{}, poke: make(chan struct{}, 1)}
	e.opts = &services{m: map[string]chatcore.Options{"esp": esp, "none": base, "agent": agent}}
	e.store = store
	e.startCore(false)
	if e.auth, err = adminauth.New(adminauth.Options{Token: token}); err != nil {
		t.Fatal(err)
	}
	e.mountAPI()
	mux := http.NewServeMux()
	mux.Handle("/workflow/v1/", http.StripPrefix("/workflow/v1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*e.api.Load()).ServeHTTP(w, r)
	})))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// startCore runs the chat core on the env's store (timers held with holdTimers).
func (e *env) startCore(holdTimers bool) {
	t := e.t
	var err error
	e.core, err = chatcore.New(context.Background(), chatcore.Config{
		Store: e.store, Clock: e.clock, NodeName: "node-1",
		Options: e.opts, DeferTimers: holdTimers,
		Listeners: []chatcore.Listener{chatcore.ListenerFuncs{Properties: func(v chatcore.ChatView, changed map[string]string) {
			e.mu.Lock()
			if e.props[v.ID] == nil {
				e.props[v.ID] = map[string]string{}
			}
			for k, x := range changed {
				e.props[v.ID][k] = x
			}
			e.mu.Unlock()
			select {
			case e.poke <- struct{}{}:
			default:
			}
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.core.Close)
}

// mountAPI serves the workflow API over the current core.
func (e *env) mountAPI() {
	h, err := New(Config{Chats: e.core, Auth: e.auth, MaxList: 3})
	if err != nil {
		e.t.Fatal(err)
	}
	var hh http.Handler = h
	e.api.Store(&hh)
}

// holdTimers restarts the core with its timers held: the chats stay, nothing closes them (a
// node whose timers do not run: its chats outlive their GCTI_Chat_AsyncCheckAt).
func (e *env) holdTimers() {
	e.core.Close()
	e.startCore(true)
	e.mountAPI()
}

func (e *env) create(service string, async bool) chatcore.Created {
	e.t.Helper()
	ud := map[string]string{}
	if async {
		ud[chatcore.PropAsyncMode] = "true"
	}
	cr, err := e.core.CreateChat(context.Background(), chatcore.CreateRequest{Service: service, Nickname: "Ann", UserData: ud})
	if err != nil {
		e.t.Fatal(err)
	}
	return cr
}

// waitProp waits until the listener saw a property value (the timers run on their own
// goroutines; failure bound only).
func (e *env) waitProp(id, name, want string) {
	e.t.Helper()
	limit := time.NewTimer(20 * time.Second)
	defer limit.Stop()
	for {
		e.mu.Lock()
		got := e.props[id][name]
		e.mu.Unlock()
		if got == want {
			return
		}
		select {
		case <-e.poke:
		case <-limit.C:
			e.t.Fatalf("%s of %s is %q, want %q", name, id, got, want)
		}
	}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) info(t *testing.T) SessionInfo {
	t.Helper()
	var s SessionInfo
	if err := json.Unmarshal(a.body, &s); err != nil {
		t.Fatalf("not session info (%v): %s", err, a.body)
	}
	return s
}

func (a answer) code(t *testing.T) string {
	t.Helper()
	var e apijson.ErrorBody
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error == "" {
		t.Fatalf("not an error body (%v): %s", err, a.body)
	}
	return e.Code
}

func (e *env) do(method, path, body string, auth bool) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/workflow/v1"+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestConfigRequired(t *testing.T) {
	auth, _ := adminauth.New(adminauth.Options{Token: token})
	if _, err := New(Config{Auth: auth}); err == nil {
		t.Fatal("no Chats accepted")
	}
	if _, err := New(Config{Chats: fakeChats{}}); err == nil {
		t.Fatal("no Auth accepted")
	}
}

type fakeChats struct{ err error }

func (f fakeChats) Chat(string) (chatcore.ChatView, error) { return chatcore.ChatView{}, f.err }
func (f fakeChats) Restore(context.Context, string, chatcore.RestoreBy) (chatcore.Result, error) {
	return chatcore.Result{}, f.err
}
func (f fakeChats) CheckDue() []chatcore.ChatView { return nil }

// TestAuthentication: every route needs the admin credentials; without them nothing is
// said about what exists.
func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	cr := e.create("esp", true)
	for _, r := range []struct{ method, path string }{
		{"GET", "/chats/" + cr.ChatID},
		{"POST", "/chats/" + cr.ChatID + "/restore"},
		{"GET", "/chats?checkDue=1"},
		{"GET", "/nothing"},
	} {
		if a := e.do(r.method, r.path, "", false); a.status != 401 || a.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s %s without credentials: %d", r.method, r.path, a.status)
		}
	}
	if v, _ := e.core.Chat(cr.ChatID); v.Restored {
		t.Fatal("restored without credentials")
	}
}

// TestSessionInfo: GET /chats/{id} as the chat goes from created to alerted.
func TestSessionInfo(t *testing.T) {
	e := newEnv(t)
	cr := e.create("esp", true)
	if _, err := e.core.SendMessage(context.Background(), cr.ChatID, cr.UserID, "hello", ""); err != nil {
		t.Fatal(err)
	}
	a := e.do("GET", "/chats/"+cr.ChatID, "", true)
	if a.status != 200 {
		t.Fatalf("GET: %d %s", a.status, a.body)
	}
	s := a.info(t)
	want := map[string]string{chatcore.PropAsyncStatus: "2", chatcore.PropIsOnline: "true", chatcore.PropChatServerAppName: "node-1"}
	if s.ChatID != cr.ChatID || s.Service != "esp" || !s.Async || s.Ended || s.Restored || s.LastIndex != 2 || s.Alias != "node-1" ||
		!reflect.DeepEqual(s.Properties, want) || !s.Created.Equal(t0) || s.RestoredAt != nil {
		t.Fatalf("session info %+v", s)
	}
	if len(s.Participants) != 1 || s.Participants[0] != (ParticipantInfo{ParticipantID: 1, UserID: cr.UserID, Type: "Client", Nickname: "Ann", Present: true}) {
		t.Fatalf("participants %+v", s.Participants)
	}
	if strings.Contains(string(a.body), cr.SecureKey) {
		t.Fatal("session info carries the secureKey")
	}
	// The alert: status 3 and CheckAt (alert + close + margin).
	e.clock.Advance(100 * time.Second)
	e.waitProp(cr.ChatID, chatcore.PropAsyncStatus, "3")
	s = e.do("GET", "/chats/"+cr.ChatID, "", true).info(t)
	if s.Properties[chatcore.PropAsyncStatus] != "3" || s.Properties[chatcore.PropAsyncCheckAt] != strconv.FormatInt(t0.Add(160*time.Second).Unix(), 10) || s.LastIndex != 3 {
		t.Fatalf("after the alert %+v", s)
	}
	// Unknown and impossible chat ids.
	for _, id := range []string{"nosuchchat000000", strings.Repeat("x", 200)} {
		if a := e.do("GET", "/chats/"+id, "", true); a.status != 404 || a.code(t) != "chat_not_found" {
			t.Fatalf("GET unknown %q: %d %s", id[:10], a.status, a.body)
		}
	}
}

// TestRestore: POST /chats/{id}/restore and its refusals; a refusal changes nothing.
func TestRestore(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	alerted := e.create("esp", true)
	e.clock.Advance(100 * time.Second)
	e.waitProp(alerted.ChatID, chatcore.PropAsyncStatus, "3")
	e.clock.Advance(10 * time.Second) // t = 110 s, close due at 150 s

	a := e.do("POST", "/chats/"+alerted.ChatID+"/restore", "", true)
	if a.status != 200 {
		t.Fatalf("restore: %d %s", a.status, a.body)
	}
	s := a.info(t)
	restoredAt := t0.Add(110 * time.Second)
	wantCheck := restoredAt.Add(160 * time.Second).Unix()
	if !s.Restored || s.RestoredBy != "esp" || s.RestoredAt == nil || !s.RestoredAt.Equal(restoredAt) || s.Ended ||
		s.Properties[chatcore.PropAsyncStatus] != "-2" || s.Properties[chatcore.PropAsyncCheckAt] != strconv.FormatInt(wantCheck, 10) {
		t.Fatalf("restored: %+v", s)
	}
	if got := e.do("GET", "/chats/"+alerted.ChatID, "", true).info(t); !reflect.DeepEqual(got, s) {
		t.Fatalf("GET after restore differs:\n%+v\n%+v", got, s)
	}
	// Again, with an empty JSON object: allowed, restores again from now.
	e.clock.Advance(time.Second)
	if a := e.do("POST", "/chats/"+alerted.ChatID+"/restore", " {} ", true); a.status != 200 || !a.info(t).RestoredAt.Equal(restoredAt.Add(time.Second)) {
		t.Fatalf("second restore: %d %s", a.status, a.body)
	}

	ended := e.create("esp", true)
	if _, err := e.core.Disconnect(ctx, ended.ChatID, ended.UserID); err != nil {
		t.Fatal(err)
	}
	none := e.create("none", true)
	agentOnly := e.create("agent", true)
	regular := e.create("esp", false)
	big := `{"x":"` + strings.Repeat("a", DefaultMaxBody) + `"}`
	for _, c := range []struct {
		name, method, id, body string
		status                 int
		code                   string
	}{
		{"extend-by none", "POST", none.ChatID, "", 409, "restore_not_allowed"},
		{"extend-by agent", "POST", agentOnly.ChatID, "", 409, "restore_not_allowed"},
		{"ended chat", "POST", ended.ChatID, "", 409, "chat_ended"},
		{"regular chat", "POST", regular.ChatID, "", 409, "not_async"},
		{"unknown chat", "POST", "nosuchchat000000", "", 404, "chat_not_found"},
		{"parameters", "POST", none.ChatID, `{"by":"agent"}`, 400, "bad_request"},
		{"not JSON", "POST", none.ChatID, `restore please`, 400, "bad_request"},
		{"two objects", "POST", none.ChatID, `{} {}`, 400, "bad_request"},
		{"body too large", "POST", none.ChatID, big, 413, "too_large"},
		{"GET on restore", "GET", none.ChatID, "", 405, "method_not_allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			before, _ := e.core.Chat(c.id)
			a := e.do(c.method, "/chats/"+c.id+"/restore", c.body, true)
			if a.status != c.status || a.code(t) != c.code {
				t.Fatalf("got %d %s, want %d %s", a.status, a.body, c.status, c.code)
			}
			if after, _ := e.core.Chat(c.id); !reflect.DeepEqual(before, after) {
				t.Fatal("refused restore changed the chat")
			}
		})
	}
	e.t = t
	if a := e.do("POST", "/chats/"+none.ChatID+"/restore", "", true); a.status == 405 || a.header.Get("Allow") != "" {
		t.Fatalf("Allow on a POST: %v", a.header)
	}
	if a := e.do("DELETE", "/chats/"+none.ChatID, "", true); a.status != 405 || a.header.Get("Allow") != "GET" {
		t.Fatalf("DELETE: %d %v", a.status, a.header)
	}
}

// TestCheckDue: GET /chats?checkDue=1 lists the live async chats whose CheckAt has passed,
// earliest first, at most limit of them; a restoration takes a chat off the list.
func TestCheckDue(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	list := func(query string) CheckDueList {
		t.Helper()
		a := e.do("GET", "/chats?"+query, "", true)
		if a.status != 200 {
			t.Fatalf("list: %d %s", a.status, a.body)
		}
		var l CheckDueList
		if err := json.Unmarshal(a.body, &l); err != nil || l.Chats == nil {
			t.Fatalf("list body (%v): %s", err, a.body)
		}
		return l
	}
	ids := func(l CheckDueList) []string {
		var out []string
		for _, s := range l.Chats {
			out = append(out, s.ChatID)
		}
		return out
	}
	if l := list("checkDue=1"); len(l.Chats) != 0 || l.Truncated {
		t.Fatalf("nothing due yet: %+v", l)
	}
	// Four chats alerted one second apart, then their node's timers held (nothing closes
	// them): their CheckAt (alert + 50 s + 10 s) passes while they live.
	var cs []chatcore.Created
	for range 4 {
		cs = append(cs, e.create("esp", true))
		e.clock.Advance(time.Second)
	}
	e.clock.Advance(96 * time.Second) // t = 100 s: the first alert (created at 0)
	for i, cr := range cs {
		e.waitProp(cr.ChatID, chatcore.PropAsyncStatus, "3")
		if i < 3 {
			e.clock.Advance(time.Second)
		}
	}
	e.holdTimers()
	ended := e.create("esp", true) // never due: ends before
	if _, err := e.core.Disconnect(ctx, ended.ChatID, ended.UserID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(57 * time.Second) // t = 160 s: CheckAt of chats 0..3 is 160..163 s
	if got := ids(list("checkDue=1")); !reflect.DeepEqual(got, []string{cs[0].ChatID}) {
		t.Fatalf("due at 160 s: %v", got)
	}
	e.clock.Advance(3 * time.Second)
	all := []string{cs[0].ChatID, cs[1].ChatID, cs[2].ChatID, cs[3].ChatID}
	l := list("checkDue=true")
	if !reflect.DeepEqual(ids(l), all[:3]) || !l.Truncated { // MaxList 3 in this env
		t.Fatalf("due at 163 s (max 3): %v truncated=%v", ids(l), l.Truncated)
	}
	if l := list("checkDue=1&limit=2"); !reflect.DeepEqual(ids(l), all[:2]) || !l.Truncated {
		t.Fatalf("limit 2: %v", ids(l))
	}
	if s := l.Chats[0]; s.Properties[chatcore.PropAsyncCheckAt] != strconv.FormatInt(t0.Add(160*time.Second).Unix(), 10) || s.Properties[chatcore.PropAsyncStatus] != "3" {
		t.Fatalf("listed session info %+v", s)
	}
	if a := e.do("POST", "/chats/"+cs[0].ChatID+"/restore", "", true); a.status != 200 {
		t.Fatalf("restore: %d %s", a.status, a.body)
	}
	if l := list("checkDue=1"); !reflect.DeepEqual(ids(l), all[1:]) || l.Truncated {
		t.Fatalf("after restoring the first: %v", ids(l))
	}
	for _, q := range []string{"", "checkDue=0", "checkDue=maybe", "checkDue=1&limit=0", "checkDue=1&limit=4", "checkDue=1&limit=x"} {
		if a := e.do("GET", "/chats?"+q, "", true); a.status != 400 || a.code(t) != "bad_request" {
			t.Fatalf("%q: %d %s", q, a.status, a.body)
		}
	}
	if a := e.do("POST", "/chats?checkDue=1", "", true); a.status != 405 || a.header.Get("Allow") != "GET" {
		t.Fatalf("POST list: %d", a.status)
	}
	if a := e.do("GET", "/chats/"+cs[0].ChatID+"/transcript", "", true); a.status != 404 || a.code(t) != "not_found" {
		t.Fatalf("unknown route: %d %s", a.status, a.body)
	}
}

// TestStoreErrors: core errors that mean "retry" answer 503 with Retry-After; others 500.
func TestStoreErrors(t *testing.T) {
	auth, _ := adminauth.New(adminauth.Options{Token: token})
	for _, c := range []struct {
		err    error
		status int
	}{
		{chatcore.ErrUnavailable, 503}, {chatcore.ErrConflict, 503}, {chatcore.ErrClosed, 503},
		{errors.New("something else"), 500},
	} {
		h, err := New(Config{Chats: fakeChats{err: c.err}, Auth: auth})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"GET /chats/abc", "POST /chats/abc/restore"} {
			method, path, _ := strings.Cut(m, " ")
			req := httptest.NewRequest(method, path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != c.status || (c.status == 503) != (w.Header().Get("Retry-After") != "") || strings.Contains(w.Body.String(), c.err.Error()) {
				t.Fatalf("%v on %s: %d %v %s", c.err, m, w.Code, w.Header(), w.Body)
			}
		}
	}
}
