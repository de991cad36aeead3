package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/adminauth"
)

// opsEnv serves the workflow API with operations and idempotency over the env's core.
func opsEnv(t *testing.T) (*env, *httptest.Server) {
	e, srv, _ := opsEnvKV(t)
	return e, srv
}

func opsEnvKV(t *testing.T) (*env, *httptest.Server, jetstream.KeyValue) {
	e := newEnv(t)
	kv, err := e.conn.JS.CreateOrUpdateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: IdempotencyBucket, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := adminauth.New(adminauth.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Chats: e.core, Ops: e.core, Idempotency: kv, Auth: auth, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/workflow/v1/", http.StripPrefix("/workflow/v1", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return e, srv, kv
}

type opAnswer struct {
	status   int
	replayed bool
	body     string
}

func call(t *testing.T, srv *httptest.Server, path, key, body string) opAnswer {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/workflow/v1"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set(HeaderIdempotencyKey, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return opAnswer{resp.StatusCode, resp.Header.Get(HeaderReplayed) == "true", string(b)}
}

func countNotices(t *testing.T, e *env, id, text string) int {
	t.Helper()
	p, err := e.core.EventsPage(context.Background(), id, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range p.Events {
		if ev.Type == chatcore.EventNotice && ev.Text == text {
			n++
		}
	}
	return n
}

// TestIdempotentOperations: each operation called twice with the same Idempotency-Key acts
// once and answers the same; concurrent calls with one key act once; the same key with
// another body is refused; without a key every call acts.
func TestIdempotentOperations(t *testing.T) {
	e, srv := opsEnv(t)
	id := e.create("esp", true).ChatID
	msg := `{"text":"Your order shipped","userData":{"order":"42"}}`
	first := call(t, srv, "/chats/"+id+"/messages", "k-1", msg)
	again := call(t, srv, "/chats/"+id+"/messages", "k-1", msg)
	if first.status != 200 || first.replayed || again.status != 200 || !again.replayed || again.body != first.body {
		t.Fatalf("message twice: %+v / %+v", first, again)
	}
	if n := countNotices(t, e, id, "Your order shipped"); n != 1 {
		t.Fatalf("%d notices after two calls with one key", n)
	}
	if a := call(t, srv, "/chats/"+id+"/messages", "k-1", `{"text":"other"}`); a.status != 422 || !strings.Contains(a.body, "idempotency_key_reused") {
		t.Fatalf("reused key: %+v", a)
	}
	// Without a key each call acts.
	call(t, srv, "/chats/"+id+"/messages", "", `{"text":"no key"}`)
	call(t, srv, "/chats/"+id+"/messages", "", `{"text":"no key"}`)
	if n := countNotices(t, e, id, "no key"); n != 2 {
		t.Fatalf("%d notices without key, want 2", n)
	}
	// Concurrent calls with one key: one acts, the others answer the same or 409.
	var wg sync.WaitGroup
	answers := make([]opAnswer, 6)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = call(t, srv, "/chats/"+id+"/messages", "k-race", `{"text":"race"}`)
		}()
	}
	wg.Wait()
	for _, a := range answers {
		if a.status != 200 && a.status != 409 {
			t.Fatalf("concurrent: %+v", a)
		}
	}
	if n := countNotices(t, e, id, "race"); n != 1 {
		t.Fatalf("%d notices from concurrent calls with one key", n)
	}
	// Properties: merged into userData once.
	p1 := call(t, srv, "/chats/"+id+"/properties", "p-1", `{"userData":{"segment":"gold"}}`)
	p2 := call(t, srv, "/chats/"+id+"/properties", "p-1", `{"userData":{"segment":"gold"}}`)
	var info SessionInfo
	if p1.status != 200 || !p2.replayed || json.Unmarshal([]byte(p1.body), &info) != nil || info.UserData["segment"] != "gold" {
		t.Fatalf("properties: %+v %+v", p1, p2)
	}
	// End: the second call with the key repeats the answer instead of 409 chat_ended.
	end1 := call(t, srv, "/chats/"+id+"/end", "e-1", "")
	end2 := call(t, srv, "/chats/"+id+"/end", "e-1", "")
	if end1.status != 200 || !strings.Contains(end1.body, `"ended":true`) || end2.status != 200 || !end2.replayed {
		t.Fatalf("end: %+v / %+v", end1, end2)
	}
	if a := call(t, srv, "/chats/"+id+"/end", "e-2", ""); a.status != 409 || !strings.Contains(a.body, "chat_ended") {
		t.Fatalf("end with a new key: %+v", a)
	}
	// Refusals are remembered too (4xx), and bad input is 400.
	if a := call(t, srv, "/chats/"+id+"/messages", "k-ended", `{"text":"late"}`); a.status != 409 {
		t.Fatalf("message to an ended chat: %+v", a)
	}
	if a := call(t, srv, "/chats/"+id+"/messages", "k-ended", `{"text":"late"}`); a.status != 409 || !a.replayed {
		t.Fatalf("repeated refusal: %+v", a)
	}
	id2 := e.create("esp", true).ChatID
	for _, tc := range []struct{ path, body string }{
		{"/chats/" + id2 + "/messages", `{"text":""}`},
		{"/chats/" + id2 + "/messages", `{"bogus":1}`},
		{"/chats/" + id2 + "/properties", `{"userData":{}}`},
		{"/chats/" + id2 + "/end", `{"x":1}`},
	} {
		if a := call(t, srv, tc.path, "", tc.body); a.status != 400 {
			t.Errorf("%s %s: %+v, want 400", tc.path, tc.body, a)
		}
	}
	if a := call(t, srv, "/chats/nosuchchat/end", "", ""); a.status != 404 {
		t.Fatalf("unknown chat: %+v", a)
	}
}

// TestIdempotencyKeyOfACrashedCall: a key whose first call never finished (the record says
// pending, as after a crash mid-call) answers 409 until the pending timeout has passed on the
// clock, then a retry acts.
func TestIdempotencyKeyOfACrashedCall(t *testing.T) {
	e, srv, kv := opsEnvKV(t)
	id := e.create("esp", true).ChatID
	body := `{"text":"after a crash"}`
	sum := sha256.Sum256([]byte(body))
	// The stored shapes of web/idempotency: the record, and the key as the workflow API has
	// always hashed it (no namespace, no scope), so records of older versions still answer.
	rec, _ := json.Marshal(map[string]any{"request": hex.EncodeToString(sum[:]), "started": e.clock.Now(), "done": false})
	keySum := sha256.Sum256([]byte("POST /chats/" + id + "/messages\nk-crash"))
	if _, err := kv.Create(context.Background(), hex.EncodeToString(keySum[:]), rec); err != nil {
		t.Fatal(err)
	}
	if a := call(t, srv, "/chats/"+id+"/messages", "k-crash", body); a.status != 409 || !strings.Contains(a.body, "idempotency_in_progress") {
		t.Fatalf("while pending: %+v", a)
	}
	e.clock.Advance(DefaultPendingTimeout)
	if a := call(t, srv, "/chats/"+id+"/messages", "k-crash", body); a.status != 200 || a.replayed {
		t.Fatalf("after the pending timeout: %+v", a)
	}
	if a := call(t, srv, "/chats/"+id+"/messages", "k-crash", body); a.status != 200 || !a.replayed {
		t.Fatalf("then repeated: %+v", a)
	}
	if n := countNotices(t, e, id, "after a crash"); n != 1 {
		t.Fatalf("%d notices", n)
	}
}
