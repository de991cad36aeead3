package agentapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/bayeux"
	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/jetstore"
	"github.com/chatgate/chatgate/chatcore/routing"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
	"github.com/chatgate/chatgate/web/agentapi/responses"
	"github.com/chatgate/chatgate/web/idempotency"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a manual clock for the grace timers.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// advance moves the clock and runs the timers that fell due, on this goroutine.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

type fixture struct {
	t     *testing.T
	core  *chatcore.Core
	accts *accounts.Store
	api   *API
	srv   *httptest.Server
	clock *fakeClock
	resp  *responses.Store
	// tokens by account id
	tok map[string]string
}

func newFixture(t *testing.T, extendBy string) *fixture { return newFixtureWith(t, extendBy, false) }

// newFixtureWith builds the API, with the routing engine when routed.
func newFixtureWith(t *testing.T, extendBy string, routed bool, opts ...func(*Config)) *fixture {
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
	o := chatcore.DefaultOptions()
	o.Settings.SessionRestoreExtendBy = extendBy
	core, err := chatcore.New(ctx, chatcore.Config{Store: store, Options: chatcore.StaticOptions(o), NodeName: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(core.Close)
	as, err := accounts.Open(ctx, accounts.Config{KV: conn, Hasher: accounts.Hasher{Time: 1, Memory: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := responses.Open(ctx, responses.Config{KV: conn})
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	idem, err := conn.KV(ctx, jetstream.KeyValueConfig{Bucket: idempotency.Bucket, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Chats: core, Accounts: as, KV: conn, Clock: clk, LoginPerMinute: 5, Responses: rs, Idempotency: idem}
	var router *routing.Router
	if routed {
		kv, err := routing.OpenBucket(ctx, conn, 1)
		if err != nil {
			t.Fatal(err)
		}
		if router, err = routing.New(ctx, routing.Config{Core: core, KV: kv}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(router.Close)
		cfg.Router = router
	}
	for _, o := range opts {
		o(&cfg)
	}
	api, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.Close)
	if router != nil {
		router.SetSink(api)
	}
	core.AddListener(api)
	srv := httptest.NewServer(http.StripPrefix(Prefix, api.Handler()))
	t.Cleanup(srv.Close)
	f := &fixture{t: t, core: core, accts: as, api: api, srv: srv, clock: clk, resp: rs, tok: map[string]string{}}
	for id, sp := range map[string]accounts.Spec{
		"ann":  {DisplayName: "Ann", Role: accounts.RoleAgent, Queues: []string{"support"}, Capacity: 2, Password: "ann-password"},
		"bob":  {DisplayName: "Bob", Role: accounts.RoleAgent, Queues: []string{"sales"}, Capacity: 2, Password: "bob-password"},
		"sue":  {DisplayName: "Sue", Role: accounts.RoleSupervisor, Queues: []string{"support"}, Password: "sue-password"},
		"carl": {DisplayName: "Carl", Role: accounts.RoleAgent, Queues: []string{"other"}, Password: "carl-password"},
		"bot":  {DisplayName: "Helper", Role: accounts.RoleBot, Queues: []string{"support"}},
	} {
		if _, err := as.Put(ctx, id, sp); err != nil {
			t.Fatal(err)
		}
		if sp.Password != "" {
			code, m := f.call("POST", "/login", "", map[string]any{"id": id, "password": sp.Password})
			if code != 200 {
				t.Fatalf("login %s: %d %v", id, code, m)
			}
			f.tok[id] = m["token"].(string)
		}
	}
	tok, _, err := as.NewToken(ctx, "bot", "test")
	if err != nil {
		t.Fatal(err)
	}
	f.tok["bot"] = tok
	return f
}

func (f *fixture) call(method, path, token string, body any) (int, map[string]any) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, f.srv.URL+Prefix+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// act posts an action and expects a status.
func (f *fixture) act(who, chatID, action string, body map[string]any, want int) map[string]any {
	f.t.Helper()
	code, m := f.call("POST", "/chats/"+chatID+"/"+action, f.tok[who], body)
	if code != want {
		f.t.Fatalf("%s %s: %d %v, want %d", who, action, code, m, want)
	}
	return m
}

func (f *fixture) status(chatID string) int {
	f.t.Helper()
	v, err := f.core.Chat(chatID)
	if err != nil {
		f.t.Fatal(err)
	}
	return v.AsyncStatus
}

func (f *fixture) newChat(ud map[string]string) chatcore.Created {
	f.t.Helper()
	if ud == nil {
		ud = map[string]string{}
	}
	ud[chatcore.PropAsyncMode] = "true"
	cr, err := f.core.CreateChat(context.Background(), chatcore.CreateRequest{Service: "support", Nickname: "Cust", Email: "cust@example.com", UserData: ud})
	if err != nil {
		f.t.Fatal(err)
	}
	return cr
}

// unchanged runs a refused request and checks the chat did not change.
func (f *fixture) unchanged(chatID string, do func()) {
	f.t.Helper()
	v0, _ := f.core.Chat(chatID)
	do()
	v1, _ := f.core.Chat(chatID)
	if v0.LastIndex != v1.LastIndex || v0.AsyncStatus != v1.AsyncStatus || len(v0.Participants) != len(v1.Participants) || len(v0.UserData) != len(v1.UserData) {
		f.t.Fatalf("a refused request changed chat %s: index %d→%d status %d→%d", chatID, v0.LastIndex, v1.LastIndex, v0.AsyncStatus, v1.AsyncStatus)
	}
}

func caps(m map[string]any) []string {
	chat, _ := m["chat"].(map[string]any)
	if chat == nil {
		chat = m
	}
	var out []string
	for _, c := range chat["capabilities"].([]any) {
		out = append(out, c.(string))
	}
	return out
}

func chatField(m map[string]any, k string) any { return m["chat"].(map[string]any)[k] }

func customerSees(t *testing.T, core *chatcore.Core, chatID string) []string {
	t.Helper()
	var evs []chatcore.Event
	for from := int64(1); ; {
		page, err := core.EventsPage(context.Background(), chatID, from, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, page.Events...)
		if !page.More {
			break
		}
		from = page.Next
	}
	var out []string
	for _, e := range chatcore.VisibleEvents(evs, chatcore.Client) {
		if e.Type == chatcore.EventMessage {
			out = append(out, e.Text)
		}
	}
	return out
}

func transcriptTexts(f *fixture, who, chatID string) []string {
	f.t.Helper()
	code, m := f.call("GET", "/chats/"+chatID+"/transcript", f.tok[who], nil)
	if code != 200 {
		f.t.Fatalf("transcript for %s: %d %v", who, code, m)
	}
	var out []string
	for _, e := range m["events"].([]any) {
		ev := e.(map[string]any)
		if ev["type"] == "Message" {
			out = append(out, ev["text"].(string))
		}
	}
	return out
}

func TestAuthorization(t *testing.T) {
	f := newFixture(t, "none")
	cr := f.newChat(nil)
	id := cr.ChatID
	f.unchanged(id, func() {
		if code, _ := f.call("POST", "/chats/"+id+"/join", "", nil); code != 401 {
			t.Fatalf("no token: %d", code)
		}
		if code, _ := f.call("POST", "/chats/"+id+"/join", "cgs_forged", nil); code != 401 {
			t.Fatalf("forged token: %d", code)
		}
		if code, _ := f.call("GET", "/chats/"+id, "", nil); code != 401 {
			t.Fatalf("get without token: %d", code)
		}
		// Bob's queues do not include support: he may neither see nor join.
		if code, _ := f.call("GET", "/chats/"+id, f.tok["bob"], nil); code != 403 {
			t.Fatalf("wrong queue get: %d", code)
		}
		f.act("bob", id, "join", nil, 403)
		f.act("bob", id, "send", map[string]any{"text": "hi"}, 403)
		f.act("ann", id, "send", map[string]any{"text": "not joined yet"}, 403)
		f.act("ann", "NoSuchChat123456", "join", nil, 404)
		f.act("ann", "../../etc", "join", nil, 404)
		f.act("ann", id, "fly", nil, 400)
		f.act("ann", id, "join", map[string]any{"bogus": 1}, 400)
		f.act("ann", id, "join", map[string]any{"mode": "barge"}, 400)
		// Supervisor-only endpoints.
		if code, _ := f.call("GET", "/supervisor/chats", f.tok["ann"], nil); code != 403 {
			t.Fatalf("agent on supervisor endpoint: %d", code)
		}
	})
	// An oversized body is refused before anything else.
	f.unchanged(id, func() {
		if code, m := f.call("POST", "/chats/"+id+"/send", f.tok["ann"], map[string]any{"text": strings.Repeat("x", DefaultMaxBody)}); code != 413 {
			t.Fatalf("oversized body: %d %v", code, m)
		}
	})
	if code, _ := f.call("GET", "/chats/NoSuchChat123456", f.tok["ann"], nil); code != 404 {
		t.Fatalf("unknown chat: %d", code)
	}
	// Ann sees the waiting chat with join among its capabilities.
	code, m := f.call("GET", "/chats/"+id, f.tok["ann"], nil)
	if code != 200 || m["state"] != ChatWaiting || !slices.Equal(caps(m), []string{ActJoin}) {
		t.Fatalf("ann get: %d %v", code, m)
	}
	if _, ok := m["userData"].(map[string]any)[WebapiTokenKey]; ok {
		t.Fatal("restoration token shown to an agent not in the chat")
	}
	// Logout revokes the session token.
	if code, _ := f.call("POST", "/logout", f.tok["carl"], nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := f.call("GET", "/me", f.tok["carl"], nil); code != 401 {
		t.Fatalf("after logout: %d", code)
	}
	// Login attempts are limited per account (5 a minute here), before the password check.
	for i := range 6 {
		code, _ := f.call("POST", "/login", "", map[string]any{"id": "carl", "password": "wrong-password"})
		if want := map[bool]int{true: 429, false: 401}[i >= 4]; code != want {
			t.Fatalf("bad login %d: %d, want %d", i, code, want)
		}
	}
	if code, _ := f.call("POST", "/login", "", map[string]any{"id": "carl", "password": "carl-password"}); code != 429 {
		t.Fatalf("right password while limited: %d", code)
	}
}

func TestAgentLifecycleREST(t *testing.T) {
	f := newFixture(t, "none")
	cr := f.newChat(nil)
	id := cr.ChatID
	ctx := context.Background()
	if code, m := f.call("PUT", "/me/state", f.tok["ann"], map[string]any{"state": "ready"}); code != 200 || m["presence"].(map[string]any)["state"] != "ready" {
		t.Fatalf("ready: %d %v", code, m)
	}
	if code, _ := f.call("PUT", "/me/state", f.tok["ann"], map[string]any{"state": "asleep"}); code != 400 {
		t.Fatalf("bad state: %d", code)
	}
	m := f.act("ann", id, "join", nil, 200)
	if chatField(m, "state") != ChatJoined || f.status(id) != chatcore.AsyncProcessing || !slices.Contains(caps(m), ActHold) {
		t.Fatalf("join: %v status %d", m, f.status(id))
	}
	f.act("ann", id, "join", nil, 409) // already in
	f.act("ann", id, "send", map[string]any{"text": "Hello, I am Ann"}, 200)
	f.act("ann", id, "send", map[string]any{"text": "note to colleagues", "visibility": "INT"}, 200)
	f.unchanged(id, func() { f.act("ann", id, "send", map[string]any{"text": "x", "visibility": "VIP"}, 403) })
	f.unchanged(id, func() { f.act("ann", id, "send", map[string]any{"text": ""}, 400) })
	if got := customerSees(t, f.core, id); !slices.Equal(got, []string{"Hello, I am Ann"}) {
		t.Fatalf("customer sees %v", got)
	}
	if got := transcriptTexts(f, "ann", id); !slices.Equal(got, []string{"Hello, I am Ann", "note to colleagues"}) {
		t.Fatalf("ann sees %v", got)
	}
	f.act("ann", id, "typing-start", nil, 200)
	f.act("ann", id, "push-url", map[string]any{"url": "https://example.com/help"}, 200)

	// Hold: Ann leaves, -2, in her workbin with "done" and "join" allowed.
	m = f.act("ann", id, "hold", nil, 200)
	if f.status(id) != chatcore.AsyncOnHold || chatField(m, "state") != ChatHeld {
		t.Fatalf("hold: status %d %v", f.status(id), m)
	}
	code, wb := f.call("GET", "/workbin", f.tok["ann"], nil)
	if code != 200 || len(wb["chats"].([]any)) != 1 {
		t.Fatalf("workbin: %d %v", code, wb)
	}
	if c := caps(wb["chats"].([]any)[0].(map[string]any)); !slices.Contains(c, ActJoin) || !slices.Contains(c, ActDone) {
		t.Fatalf("workbin capabilities %v", c)
	}
	// The customer writes: 2. Ann reopens it from her workbin: -1, workbin empty.
	if _, err := f.core.SendMessage(ctx, id, cr.UserID, "I am back", ""); err != nil {
		t.Fatal(err)
	}
	if f.status(id) != chatcore.AsyncCustomer {
		t.Fatalf("status %d, want 2", f.status(id))
	}
	f.act("ann", id, "join", nil, 200)
	if _, wb = f.call("GET", "/workbin", f.tok["ann"], nil); len(wb["chats"].([]any)) != 0 {
		t.Fatalf("workbin after reopening: %v", wb)
	}
	// My chats.
	if _, my := f.call("GET", "/chats", f.tok["ann"], nil); len(my["chats"].([]any)) != 1 {
		t.Fatalf("my chats: %v", my)
	}

	// Transfer to Bob: refused while Bob is logged out; then Bob joins, Ann leaves.
	f.unchanged(id, func() { f.act("ann", id, "transfer", map[string]any{"agent": "bob"}, 409) })
	f.unchanged(id, func() { f.act("ann", id, "transfer", map[string]any{"agent": "nobody"}, 400) })
	f.unchanged(id, func() { f.act("ann", id, "transfer", map[string]any{"agent": "ann"}, 400) })
	f.call("PUT", "/me/state", f.tok["bob"], map[string]any{"state": "ready"})
	m = f.act("ann", id, "transfer", map[string]any{"agent": "bob"}, 200)
	if chatField(m, "state") == ChatJoined {
		t.Fatalf("ann still joined after transfer: %v", m)
	}
	v, _ := f.core.Chat(id)
	if p, _ := v.Participant("bob"); !p.Present || v.AsyncStatus != chatcore.AsyncProcessing {
		t.Fatalf("after transfer: bob %+v status %d", p, v.AsyncStatus)
	}
	f.act("ann", id, "send", map[string]any{"text": "still here?"}, 403)
	f.act("bob", id, "send", map[string]any{"text": "Bob here"}, 200)

	// Release to queue: 5. Ann marks her part done with a disposition.
	f.act("bob", id, "release", nil, 200)
	if f.status(id) != 5 {
		t.Fatalf("release: status %d", f.status(id))
	}
	f.act("ann", id, "done", map[string]any{"disposition": strings.Repeat("x", MaxDisposition+1)}, 400)
	f.act("ann", id, "done", map[string]any{"disposition": "transferred"}, 200)
	if v, _ := f.core.Chat(id); v.UserData[DispositionKey] != "transferred" {
		t.Fatalf("disposition: %v", v.UserData)
	}
	// Ann picks it up again (waiting in her queue) and ends it.
	f.act("ann", id, "join", nil, 200)
	m = f.act("ann", id, "end", nil, 200)
	if chatField(m, "state") != ChatEnded || chatField(m, "ended") != true {
		t.Fatalf("end: %v", m)
	}
	f.act("ann", id, "send", map[string]any{"text": "after the end"}, 409)

	// Contact history: a second chat of the same customer lists the first.
	cr2 := f.newChat(nil)
	code, h := f.call("GET", "/chats/"+cr2.ChatID+"/history", f.tok["ann"], nil)
	if code != 200 || len(h["chats"].([]any)) != 1 || h["chats"].([]any)[0].(map[string]any)["chatId"] != id {
		t.Fatalf("history: %d %v", code, h)
	}
}

func TestSupervisorModesAndBots(t *testing.T) {
	f := newFixture(t, "none")
	cr := f.newChat(nil)
	id := cr.ChatID
	f.act("ann", id, "join", nil, 200)
	code, live := f.call("GET", "/supervisor/chats", f.tok["sue"], nil)
	if code != 200 || len(live["chats"].([]any)) != 1 {
		t.Fatalf("supervisor chats: %d %v", code, live)
	}
	if code, q := f.call("GET", "/supervisor/queues", f.tok["sue"], nil); code != 200 || q["queues"].([]any)[0].(map[string]any)["active"].(float64) != 1 {
		t.Fatalf("queues: %d %v", code, q)
	}
	// Sue joins silently (monitor): Ann does not see her.
	m := f.act("sue", id, "join", nil, 200)
	if chatField(m, "mode") != "monitor" || !slices.Contains(caps(m), ActMode) {
		t.Fatalf("sue join: %v", m)
	}
	_, annView := f.call("GET", "/chats/"+id, f.tok["ann"], nil)
	for _, p := range annView["participants"].([]any) {
		if p.(map[string]any)["userId"] == "sue" {
			t.Fatal("a monitoring supervisor is listed to the agent")
		}
	}
	f.act("sue", id, "send", map[string]any{"text": "monitor note"}, 200) // VIP by mode
	f.unchanged(id, func() { f.act("sue", id, "typing-start", nil, 409) })
	f.act("sue", id, "mode", map[string]any{"mode": "coach"}, 200)
	f.act("sue", id, "send", map[string]any{"text": "coach note"}, 200) // INT
	f.act("sue", id, "mode", map[string]any{"mode": "barge"}, 200)
	f.act("sue", id, "send", map[string]any{"text": "barge note"}, 200) // ALL
	f.act("sue", id, "mode", map[string]any{"mode": "shout"}, 400)
	f.act("ann", id, "mode", map[string]any{"mode": "barge"}, 403)
	if got := customerSees(t, f.core, id); !slices.Equal(got, []string{"barge note"}) {
		t.Fatalf("customer sees %v", got)
	}
	if got := transcriptTexts(f, "ann", id); !slices.Equal(got, []string{"coach note", "barge note"}) {
		t.Fatalf("agent sees %v", got)
	}
	if got := transcriptTexts(f, "sue", id); !slices.Equal(got, []string{"monitor note", "coach note", "barge note"}) {
		t.Fatalf("supervisor sees %v", got)
	}

	// A bot with an API token: joins as External with PartyStyle BOT; its message is not
	// activity (async status stays).
	m = f.act("bot", id, "join", nil, 200)
	evs := m["events"].([]any)
	if len(evs) != 1 || evs[0].(map[string]any)["userData"].(map[string]any)[chatcore.KeyPartyStyle] != chatcore.PartyStyleBot {
		t.Fatalf("bot join events: %v", evs)
	}
	f.act("bot", id, "send", map[string]any{"text": "I can help", "visibility": "VIP"}, 200)
	// A bot is scoped to its services.
	other, err := f.core.CreateChat(context.Background(), chatcore.CreateRequest{Service: "sales", Nickname: "X"})
	if err != nil {
		t.Fatal(err)
	}
	f.unchanged(other.ChatID, func() { f.act("bot", other.ChatID, "join", nil, 403) })
}

func TestDesktopRestorationWithToken(t *testing.T) {
	f := newFixture(t, "agent")
	cr := f.newChat(nil)
	id := cr.ChatID
	m := f.act("ann", id, "join", nil, 200)
	tok := chatField(m, "userData").(map[string]any)[WebapiTokenKey].(string)
	if tok == "" {
		t.Fatal("no restoration token for the agent in the chat")
	}
	f.act("ann", id, "leave", nil, 200)
	// Carl (another queue) may not join, except with the interaction's token.
	f.unchanged(id, func() { f.act("carl", id, "join", nil, 403) })
	f.unchanged(id, func() { f.act("carl", id, "join", map[string]any{WebapiTokenKey: "0123" + tok[4:]}, 403) })
	m = f.act("carl", id, "join", map[string]any{WebapiTokenKey: tok}, 200)
	if m["restored"] != true {
		t.Fatalf("join with token: %v", m)
	}
	if v, _ := f.core.Chat(id); !v.Restored || v.RestoredBy != chatcore.RestoreByAgent {
		t.Fatalf("not restored: %+v", v)
	}
}

func TestAbnormalDisconnectGrace(t *testing.T) {
	f := newFixture(t, "none")
	cr := f.newChat(nil)
	id := cr.ChatID
	f.act("ann", id, "join", nil, 200)
	ext, _ := json.Marshal(map[string]string{HandshakeTokenKey: f.tok["ann"]})
	ctx := context.Background()
	var p Policy
	if p.CanHandshake(ctx, bayeux.HandshakeInfo{Ext: ext}) {
		t.Fatal("an unbound policy accepted an agent handshake")
	}
	p.Bind(f.api)
	bad, _ := json.Marshal(map[string]string{HandshakeTokenKey: "cgs_nope"})
	if p.CanHandshake(ctx, bayeux.HandshakeInfo{Ext: bad}) || !p.CanHandshake(ctx, bayeux.HandshakeInfo{Ext: ext}) || !p.CanHandshake(ctx, bayeux.HandshakeInfo{}) {
		t.Fatal("handshake policy")
	}
	f.api.SessionAdded(ctx, bayeux.SessionInfo{ID: "s1", HandshakeExt: ext})
	if !p.CanSubscribe(ctx, bayeux.SessionInfo{ID: "s1"}, "/agent/ann/chat") || p.CanSubscribe(ctx, bayeux.SessionInfo{ID: "s1"}, "/agent/bob/chat") ||
		p.CanSubscribe(ctx, bayeux.SessionInfo{ID: "s2"}, "/agent/ann/**") || p.CanSubscribe(ctx, bayeux.SessionInfo{ID: "s1"}, "/agent/**") {
		t.Fatal("subscribe policy")
	}
	// Lost, then back within the grace period: nothing happens.
	f.api.SessionRemoved(bayeux.SessionInfo{ID: "s1"})
	f.clock.advance(DefaultDisconnectGrace - time.Second)
	f.api.SessionAdded(ctx, bayeux.SessionInfo{ID: "s2", HandshakeExt: ext})
	f.clock.advance(time.Hour)
	if v, _ := f.core.Chat(id); v.AsyncStatus != chatcore.AsyncProcessing {
		t.Fatalf("reconnect within grace: status %d", v.AsyncStatus)
	}
	// Lost for longer than the grace period: status 4, Ann removed with reason 3.
	f.api.SessionRemoved(bayeux.SessionInfo{ID: "s2"})
	f.clock.advance(DefaultDisconnectGrace - time.Second)
	if f.status(id) != chatcore.AsyncProcessing {
		t.Fatal("removed before the grace period ended")
	}
	f.clock.advance(time.Second)
	v, _ := f.core.Chat(id)
	if p, _ := v.Participant("ann"); p.Present || v.AsyncStatus != chatcore.AsyncAgentLost {
		t.Fatalf("after grace: ann %+v status %d", p, v.AsyncStatus)
	}
	page, _ := f.core.EventsPage(ctx, id, v.LastIndex, 1, 0)
	evs := page.Events
	if evs[0].Type != chatcore.EventParticipantLeft || evs[0].UserData[chatcore.KeyQuitReason] != "3" {
		t.Fatalf("last event %+v", evs[0])
	}
	if _, me := f.call("GET", "/me", f.tok["ann"], nil); me["presence"].(map[string]any)["state"] != "logged-out" {
		t.Fatalf("presence after loss: %v", me)
	}
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	f := newFixture(t, "none")
	for path, ops := range doc.Paths {
		concrete := strings.NewReplacer("{chatId}", "NoSuchChat123456", "{action}", "join").Replace(path)
		for method := range ops {
			code, m := f.call(strings.ToUpper(method), concrete, "", nil)
			if code == 404 && m["code"] == "not_found" && m["error"] == "no such endpoint" {
				t.Errorf("%s %s is documented but not served", method, path)
			}
		}
	}
	code, _ := f.call("GET", "/openapi.json", "", nil)
	if code != 200 {
		t.Fatalf("openapi.json: %d", code)
	}
}

// Unknown paths and methods answer in the API's error shape: 404 not_found, 405
// method_not_allowed with Allow.
func TestRouterAnswersInTheErrorShape(t *testing.T) {
	f := newFixture(t, "none")
	if code, m := f.call("GET", "/nothing", "", nil); code != 404 || m["code"] != "not_found" || m["error"] != "no such endpoint" {
		t.Fatalf("unknown path: %d %v", code, m)
	}
	req, _ := http.NewRequest("DELETE", f.srv.URL+Prefix+"/me", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" || m["code"] != "method_not_allowed" ||
		resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("DELETE /me: %d %v %v", resp.StatusCode, resp.Header, m)
	}
}

// waitOffer polls the agent's pending offers until chatID is among them.
func (f *fixture) waitOffer(who, chatID string) map[string]any {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, m := f.call("GET", "/offers", f.tok[who], nil)
		for _, o := range m["offers"].([]any) {
			if om := o.(map[string]any); om["chatId"] == chatID {
				return om
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("no offer of %s to %s: %v", chatID, who, m)
		}
		time.Sleep(10 * time.Millisecond) // polling interval of the condition, bounded by the deadline
	}
}

func TestRoutedOffersAcceptHoldReoffer(t *testing.T) {
	f := newFixtureWith(t, "none", true)
	if code, _ := f.call("PUT", "/me/state", f.tok["ann"], map[string]any{"state": "ready"}); code != 200 {
		t.Fatalf("ready: %d", code)
	}
	cr := f.newChat(nil)
	id := cr.ChatID
	o := f.waitOffer("ann", id)
	if c := caps(o); !slices.Equal(c, []string{ActAccept, ActReject}) || o["chat"].(map[string]any)["state"] != ChatOffered {
		t.Fatalf("offer: %v", o)
	}
	// With routing an agent no longer picks from the queue; others may not accept Ann's offer.
	f.unchanged(id, func() {
		f.act("bob", id, "accept", nil, 403)
		f.act("carl", id, "join", nil, 403)
	})
	// A supervisor sees the queue with the chat being offered to Ann; an agent may not.
	code, q := f.call("GET", "/supervisor/queues/support", f.tok["sue"], nil)
	if code != 200 || len(q["chats"].([]any)) != 1 || q["chats"].([]any)[0].(map[string]any)["offeredTo"] != "ann" {
		t.Fatalf("supervisor queue: %d %v", code, q)
	}
	if code, _ := f.call("GET", "/supervisor/queues/sales", f.tok["sue"], nil); code != 403 {
		t.Fatalf("another queue: %d", code)
	}
	if code, _ := f.call("GET", "/supervisor/queues/support", f.tok["ann"], nil); code != 403 {
		t.Fatalf("agent on the queue list: %d", code)
	}
	m := f.act("ann", id, "accept", nil, 200)
	if chatField(m, "state") != ChatJoined || f.status(id) != chatcore.AsyncProcessing {
		t.Fatalf("accept: %v", m)
	}
	f.act("ann", id, "accept", nil, 403) // the offer is gone
	f.act("ann", id, "hold", nil, 200)
	if f.status(id) != chatcore.AsyncOnHold {
		t.Fatalf("hold: %d", f.status(id))
	}
	if _, err := f.core.SendMessage(context.Background(), id, cr.UserID, "hello again", ""); err != nil {
		t.Fatal(err)
	}
	// Re-offered to Ann, the last agent; her workbin entry goes when she accepts.
	o = f.waitOffer("ann", id)
	if o["lastAgent"] != true {
		t.Fatalf("re-offer not as last agent: %v", o)
	}
	f.act("ann", id, "accept", nil, 200)
	if _, wb := f.call("GET", "/workbin", f.tok["ann"], nil); len(wb["chats"].([]any)) != 0 {
		t.Fatalf("workbin after accept: %v", wb)
	}
	// Not-ready withdraws offers; presence comes from the router.
	if _, me := f.call("PUT", "/me/state", f.tok["ann"], map[string]any{"state": "not-ready", "reason": "lunch"}); me["presence"].(map[string]any)["reason"] != "lunch" {
		t.Fatalf("not-ready: %v", me)
	}
}

func TestConnectionCapAndMetrics(t *testing.T) {
	f := newFixture(t, "none")
	f.api.cfg.MaxConnections = 1
	ctx := context.Background()
	ext, _ := json.Marshal(map[string]string{HandshakeTokenKey: f.tok["ann"]})
	var p Policy
	p.Bind(f.api)
	if err := p.AuthorizeHandshake(ctx, bayeux.HandshakeInfo{Ext: ext}); err != nil {
		t.Fatalf("first handshake: %v", err)
	}
	f.api.SessionAdded(ctx, bayeux.SessionInfo{ID: "s1", HandshakeExt: ext})
	if err := p.AuthorizeHandshake(ctx, bayeux.HandshakeInfo{Ext: ext}); err == nil || err.Code != 503 {
		t.Fatalf("handshake over the cap: %v", err)
	}
	if err := p.AuthorizeHandshake(ctx, bayeux.HandshakeInfo{}); err != nil {
		t.Fatalf("a customer's handshake is not capped: %v", err)
	}
	f.act("bob", "NoSuchChat123456", "join", nil, 404)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(f.api))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			if m.Gauge != nil {
				got[key] = m.GetGauge().GetValue()
			} else {
				got[key] = m.GetCounter().GetValue()
			}
		}
	}
	for k, want := range map[string]float64{
		"chatgate_agent_connections,role=agent":                      1,
		"chatgate_agent_connections_refused_total":                   1,
		"chatgate_agent_actions_total,action=join,outcome=not_found": 1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], want, got)
		}
	}
}
