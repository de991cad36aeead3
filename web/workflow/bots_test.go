package workflow

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/adminauth"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// botsEnv serves the workflow API with operations, idempotency and the real account store
// (embedded JetStream): bot "faq" acts in service esp, bot "sales-bot" in none only, "off"
// is a disabled bot of esp, "ag1" an agent.
func botsEnv(t *testing.T) (*env, *httptest.Server) {
	e := newEnv(t)
	ctx := context.Background()
	kv, err := e.conn.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: IdempotencyBucket, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	as, err := accounts.Open(ctx, accounts.Config{KV: e.conn, Hasher: accounts.Hasher{Time: 1, Memory: 8, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for id, sp := range map[string]accounts.Spec{
		"faq":       {DisplayName: "FAQ bot", Role: accounts.RoleBot, Queues: []string{"esp"}},
		"sales-bot": {DisplayName: "Sales bot", Role: accounts.RoleBot, Queues: []string{"none"}},
		"off":       {DisplayName: "Off bot", Role: accounts.RoleBot, Queues: []string{"esp"}, Disabled: true},
		"ag1":       {DisplayName: "Agent One", Role: accounts.RoleAgent, Queues: []string{"esp"}},
	} {
		if _, err := as.Put(ctx, id, sp); err != nil {
			t.Fatal(err)
		}
	}
	auth, err := adminauth.New(adminauth.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Chats: e.core, Ops: e.core, Bots: as, Idempotency: kv, Auth: auth, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/workflow/v1/", http.StripPrefix("/workflow/v1", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return e, srv
}

// joinsOf counts the ParticipantJoined events of userID in the transcript and returns the
// last one.
func joinsOf(t *testing.T, e *env, chatID, userID string) (int, chatcore.Event) {
	t.Helper()
	p, err := e.core.EventsPage(context.Background(), chatID, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, last := 0, chatcore.Event{}
	for _, ev := range p.Events {
		if ev.Type == chatcore.EventParticipantJoined && ev.From.UserID == userID {
			n, last = n+1, ev
		}
	}
	return n, last
}

// TestAddBot: the workflow adds a bot account to a chat over HTTP; it joins once as an
// External party with GCTI_Chat_PartyStyle=BOT (a keyed retry acts no more, a reused key
// with another body is 422); every refusal (unknown chat, unknown account, an agent, a
// disabled bot, a bot of another service, an ended chat, the bot already present, bad
// bodies) answers its status and leaves the chat as it was.
func TestAddBot(t *testing.T) {
	e, srv := botsEnv(t)
	cr := e.create("esp", true)
	id := cr.ChatID
	before, _ := e.core.Chat(id)

	// Refusals first: none of them touches the chat.
	for _, c := range []struct {
		path, body string
		status     int
		code       string
	}{
		{"/chats/nosuchchat000000/bots", `{"botId":"faq"}`, 404, "chat_not_found"},
		{"/chats/" + id + "/bots", `{"botId":"nobody"}`, 400, "unknown_bot"},
		{"/chats/" + id + "/bots", `{"botId":"ag1"}`, 400, "not_a_bot"},
		{"/chats/" + id + "/bots", `{"botId":"off"}`, 403, "bot_disabled"},
		{"/chats/" + id + "/bots", `{"botId":"sales-bot"}`, 403, "bot_out_of_scope"},
		{"/chats/" + id + "/bots", `{}`, 400, "bad_request"},
		{"/chats/" + id + "/bots", `{"botId":"faq","extra":1}`, 400, "bad_request"},
		{"/chats/" + id + "/bots", `{"botId":"faq","nickname":"` + strings.Repeat("n", 300) + `"}`, 413, "too_large"},
	} {
		a := call(t, srv, c.path, "", c.body)
		if a.status != c.status || !strings.Contains(a.body, `"code":"`+c.code+`"`) {
			t.Errorf("%s %s: %+v, want %d %s", c.path, c.body, a, c.status, c.code)
		}
	}
	if v, _ := e.core.Chat(id); v.LastIndex != before.LastIndex || len(v.Participants) != len(before.Participants) {
		t.Fatalf("a refusal changed the chat: %+v", v)
	}

	// Added with a key, then the same call again: one join.
	body := `{"botId":"faq","nickname":"Helper"}`
	first := call(t, srv, "/chats/"+id+"/bots", "bot-1", body)
	again := call(t, srv, "/chats/"+id+"/bots", "bot-1", body)
	if first.status != 200 || first.replayed || again.status != 200 || !again.replayed || again.body != first.body {
		t.Fatalf("add twice with one key: %+v / %+v", first, again)
	}
	var info SessionInfo
	if err := json.Unmarshal([]byte(first.body), &info); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range info.Participants {
		if p.UserID == "faq" {
			found = p.Type == "External" && p.Nickname == "Helper" && p.Present
		}
	}
	if !found {
		t.Fatalf("the bot is not a present External participant: %+v", info.Participants)
	}
	n, joined := joinsOf(t, e, id, "faq")
	if n != 1 || joined.UserData[chatcore.KeyPartyStyle] != chatcore.PartyStyleBot || joined.From.Type != chatcore.External {
		t.Fatalf("%d joins of the bot, last %+v", n, joined)
	}
	// The same key with another body; no key while present.
	if a := call(t, srv, "/chats/"+id+"/bots", "bot-1", `{"botId":"faq"}`); a.status != 422 || !strings.Contains(a.body, "idempotency_key_reused") {
		t.Fatalf("reused key: %+v", a)
	}
	if a := call(t, srv, "/chats/"+id+"/bots", "", body); a.status != 409 || !strings.Contains(a.body, "bot_present") {
		t.Fatalf("bot already present: %+v", a)
	}
	if n, _ := joinsOf(t, e, id, "faq"); n != 1 {
		t.Fatalf("%d joins after the refusals", n)
	}
	// The nickname defaults to the account's display name.
	id2 := e.create("esp", true).ChatID
	if a := call(t, srv, "/chats/"+id2+"/bots", "", `{"botId":"faq"}`); a.status != 200 {
		t.Fatalf("add without nickname: %+v", a)
	}
	if _, ev := joinsOf(t, e, id2, "faq"); ev.From.Nickname != "FAQ bot" {
		t.Fatalf("default nickname %q", ev.From.Nickname)
	}

	// An ended chat: 409, nothing added.
	if _, err := e.core.EndChat(context.Background(), id2, ""); err != nil {
		t.Fatal(err)
	}
	ended, _ := e.core.Chat(id2)
	if a := call(t, srv, "/chats/"+id2+"/bots", "", `{"botId":"faq"}`); a.status != 409 || !strings.Contains(a.body, "chat_ended") {
		t.Fatalf("ended chat: %+v", a)
	}
	if v, _ := e.core.Chat(id2); v.LastIndex != ended.LastIndex {
		t.Fatalf("the refusal changed the ended chat: %d → %d", ended.LastIndex, v.LastIndex)
	}
}

// TestAddedBotIsNotActivity: a bot the workflow added joins and posts without moving the
// chat's inactivity: the async idle alert comes 100 s after the customer's last activity,
// with CheckAt computed from it, as if the bot had done nothing.
func TestAddedBotIsNotActivity(t *testing.T) {
	e, srv := botsEnv(t)
	cr := e.create("esp", true) // the customer's activity at t0
	e.clock.Advance(30 * time.Second)
	if a := call(t, srv, "/chats/"+cr.ChatID+"/bots", "", `{"botId":"faq"}`); a.status != 200 {
		t.Fatalf("add: %+v", a)
	}
	e.clock.Advance(30 * time.Second)
	if _, err := e.core.SendMessage(context.Background(), cr.ChatID, "faq", "How can I help?", ""); err != nil {
		t.Fatal(err)
	}
	v, _ := e.core.Chat(cr.ChatID)
	if v.AsyncStatus != 1 {
		t.Fatalf("status %d after the bot's join and message, want 1 (a bot is not an agent)", v.AsyncStatus)
	}
	e.clock.Advance(40 * time.Second) // t = 100 s
	e.waitProp(cr.ChatID, chatcore.PropAsyncStatus, "3")
	v, _ = e.core.Chat(cr.ChatID)
	if want := t0.Add(160 * time.Second).Unix(); v.CheckAt != want {
		t.Fatalf("CheckAt %s, want %s (from the customer's activity at t0)", strconv.FormatInt(v.CheckAt, 10), strconv.FormatInt(want, 10))
	}
}
