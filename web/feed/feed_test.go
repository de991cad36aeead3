package feed

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/jetstore"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/internal/testwait"
	"github.com/chatgate/chatgate/web/adminauth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "feed-test-token-0123456789"

// env is the real chat core on embedded JetStream with the feed as its listener, and the
// feed API over httptest.
type env struct {
	t     testing.TB
	conn  *natsserver.Conn
	core  *chatcore.Core
	feed  *Feed
	hooks *Webhooks
	srv   *httptest.Server
}

func newEnv(t testing.TB, wc WebhookConfig) *env { return newEnvClock(t, wc, nil) }

// newEnvClock is newEnv with the core (and the feed's property records) on clock; nil is
// the real clock.
func newEnvClock(t testing.TB, wc WebhookConfig, clock *chatcore.ManualClock) *env {
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
	e := &env{t: t, conn: conn}
	fc := Config{JS: conn.JS}
	var cc chatcore.Clock
	if clock != nil {
		fc.Now, cc = clock.Now, clock
	}
	if e.feed, err = Open(ctx, fc); err != nil {
		t.Fatal(err)
	}
	opts := chatcore.DefaultOptions()
	opts.Settings.FlexDisconnectTimeout = time.Hour
	if clock != nil {
		// Tests on the manual clock move it by hours; customers without a connection stay.
		opts.Settings.FlexDisconnectTimeout = 48 * time.Hour
	}
	if e.core, err = chatcore.New(ctx, chatcore.Config{
		Store: store, NodeName: "node-1", Clock: cc, Options: chatcore.StaticOptions(opts), Listeners: []chatcore.Listener{e.feed},
		// Benchmarks send faster than a customer may.
		Limits: chatcore.Limits{EventRate: 1e6, EventBurst: 1e6},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.core.Close)
	wc.Feed = e.feed
	if e.hooks, err = OpenWebhooks(ctx, wc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.hooks.Close)
	auth, err := adminauth.New(adminauth.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	h, err := Handler(APIConfig{Feed: e.feed, Webhooks: e.hooks, Auth: auth, Heartbeat: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/workflow/v1/feed/", http.StripPrefix("/workflow/v1", h))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// chat creates a chat, adds an agent and exchanges n messages: 2+n events.
func (e *env) chat(service string, n int) string {
	e.t.Helper()
	ctx := context.Background()
	cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: service, Nickname: "Ann", UserData: map[string]string{chatcore.PropAsyncMode: "true"}})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, _, err := e.core.Join(ctx, cr.ChatID, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: "Bob", UserID: "agent-1"}); err != nil {
		e.t.Fatal(err)
	}
	for i := range n {
		if _, err := e.core.SendMessage(ctx, cr.ChatID, cr.UserID, fmt.Sprintf("m%d", i), ""); err != nil {
			e.t.Fatal(err)
		}
	}
	return cr.ChatID
}

func (e *env) req(method, path, body string) *http.Request {
	e.t.Helper()
	r, err := http.NewRequest(method, e.srv.URL+"/workflow/v1"+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func (e *env) do(method, path, body string, out any) int {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(e.req(method, path, body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func TestRecordsEventsAndProperties(t *testing.T) {
	e := newEnv(t, WebhookConfig{})
	id := e.chat("sales", 2)
	if _, err := e.core.EndChat(context.Background(), id, ""); err != nil {
		t.Fatal(err)
	}
	v, err := e.core.Chat(id)
	if err != nil {
		t.Fatal(err)
	}
	// The listener records after the commit, outside the operation: wait until the end and
	// its property change are recorded (a quiet gap alone means nothing on a loaded machine).
	userData := 0 // userData records (the creation's first userData)
	read := func() (idx []int64, props []map[string]string) {
		userData = 0
		cur, err := e.feed.Read(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		for {
			r, err := cur.Next(context.Background(), 50*time.Millisecond)
			if err == ErrNoRecord {
				return idx, props
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.ChatID != id || r.Service != "sales" || r.V != SchemaVersion || r.Stored.IsZero() {
				t.Fatalf("record %+v", r)
			}
			switch r.Kind {
			case KindEvent:
				idx = append(idx, r.Event.Index)
			case KindProperties:
				props = append(props, r.Properties)
			case KindUserData:
				userData++
			}
		}
	}
	var idx []int64
	var props []map[string]string
	testwait.Until(t, 10*time.Second, "the chat's end and its property change recorded", func() bool {
		idx, props = read()
		online := ""
		for _, p := range props {
			if x, ok := p[chatcore.PropIsOnline]; ok {
				online = x
			}
		}
		return len(idx) > 0 && idx[len(idx)-1] == v.LastIndex && online == "false"
	})
	// Every event once, in index order.
	if int64(len(idx)) != v.LastIndex {
		t.Fatalf("events %v, chat's last index %d", idx, v.LastIndex)
	}
	for i, x := range idx {
		if x != int64(i+1) {
			t.Fatalf("events out of order: %v", idx)
		}
	}
	last := map[string]string{}
	for _, p := range props {
		for k, x := range p {
			last[k] = x
		}
	}
	if last[chatcore.PropIsOnline] != "false" || last[chatcore.PropChatServerAppName] != "node-1" || last[chatcore.PropAsyncStatus] == "" {
		t.Fatalf("property changes %v", props)
	}
	if s := e.feed.Stats(); s.Failed != 0 || userData != 1 || s.Recorded != uint64(len(idx)+len(props)+userData) {
		t.Fatalf("stats %+v", s)
	}
}

// sseEvent is one received Server-Sent Event.
type sseEvent struct {
	id   string
	kind string
	rec  Record
}

// readSSE reads events from an open stream into ch until the body ends; heartbeats counts
// the comment lines.
func readSSE(body io.Reader, ch chan<- sseEvent, heartbeats *int, mu *sync.Mutex) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.id != "" {
				ch <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ": heartbeat"):
			mu.Lock()
			*heartbeats++
			mu.Unlock()
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			_ = json.Unmarshal([]byte(line[6:]), &ev.rec)
		}
	}
	close(ch)
}

// TestSSEResume drops the stream midway and reconnects with Last-Event-ID: every record
// arrives exactly once, in feed order; idle streams get heartbeats.
func TestSSEResume(t *testing.T) {
	e := newEnv(t, WebhookConfig{})
	open := func(lastID string) (*http.Response, chan sseEvent, *int, *sync.Mutex) {
		r := e.req("GET", "/feed/events?from=1", "")
		if lastID != "" {
			r.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		ch := make(chan sseEvent, 1000)
		hb, mu := new(int), &sync.Mutex{}
		go readSSE(resp.Body, ch, hb, mu)
		return resp, ch, hb, mu
	}
	id1 := e.chat("sales", 3)
	resp, ch, hb, mu := open("")
	var got []sseEvent
	recv := func(ch chan sseEvent, n int) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for range n {
			select {
			case ev := <-ch:
				got = append(got, ev)
			case <-deadline:
				t.Fatalf("received %d events, want %d more", len(got), n)
			}
		}
	}
	v1, _ := e.core.Chat(id1)
	// 5 events plus at least one property change; read the events part.
	recv(ch, 3)
	testwait.Until(t, 5*time.Second, "a heartbeat on the idle stream", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return *hb > 0
	})
	resp.Body.Close() // the connection drops
	for range ch {
	}
	id2 := e.chat("support", 2)
	resp2, ch2, _, _ := open(got[len(got)-1].id)
	defer resp2.Body.Close()
	last, err := e.feed.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	recv(ch2, int(last)-len(got))
	seen := map[string]bool{}
	perChat := map[string]int64{}
	for i, ev := range got {
		if seen[ev.id] {
			t.Fatalf("event %s repeated", ev.id)
		}
		seen[ev.id] = true
		if ev.id != fmt.Sprint(i+1) || ev.rec.Seq != uint64(i+1) || ev.kind != ev.rec.Kind {
			t.Fatalf("event %d: id %s seq %d kind %s", i, ev.id, ev.rec.Seq, ev.kind)
		}
		if ev.rec.Kind == KindEvent {
			if ev.rec.Event.Index != perChat[ev.rec.ChatID]+1 {
				t.Fatalf("chat %s: index %d after %d", ev.rec.ChatID, ev.rec.Event.Index, perChat[ev.rec.ChatID])
			}
			perChat[ev.rec.ChatID] = ev.rec.Event.Index
		}
	}
	v2, _ := e.core.Chat(id2)
	if perChat[id1] != v1.LastIndex || perChat[id2] != v2.LastIndex {
		t.Fatalf("events per chat %v, want %d and %d", perChat, v1.LastIndex, v2.LastIndex)
	}
	// A malformed Last-Event-ID is refused; no credentials: 401.
	r := e.req("GET", "/feed/events", "")
	r.Header.Set("Last-Event-ID", "x")
	if resp, err := http.DefaultClient.Do(r); err != nil || resp.StatusCode != 400 {
		t.Fatalf("bad Last-Event-ID: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	r = e.req("GET", "/feed/events", "")
	r.Header.Del("Authorization")
	if resp, err := http.DefaultClient.Do(r); err != nil || resp.StatusCode != 401 {
		t.Fatalf("no credentials: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// TestExport reads a time range as NDJSON: the records stored in it, in feed order, then
// the trailer; a range before every record has none.
func TestExport(t *testing.T) {
	e := newEnv(t, WebhookConfig{})
	before := time.Now().Add(-time.Hour)
	e.chat("sales", 2)
	e.chat("support", 1)
	last, err := e.feed.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	get := func(q string) []map[string]any {
		t.Helper()
		resp, err := http.DefaultClient.Do(e.req("GET", "/feed/export?"+q, ""))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("export %s: %d", q, resp.StatusCode)
		}
		var out []map[string]any
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			out = append(out, m)
		}
		return out
	}
	rng := func(from, to time.Time) string {
		return "from=" + from.UTC().Format(time.RFC3339Nano) + "&to=" + to.UTC().Format(time.RFC3339Nano)
	}
	lines := get(rng(before, time.Now().Add(time.Hour)))
	if len(lines) != int(last)+1 {
		t.Fatalf("%d lines for %d records", len(lines), last)
	}
	for i, l := range lines[:last] {
		if l["v"] != float64(1) || l["seq"] != float64(i+1) || l["chatId"] == "" || l["stored"] == nil {
			t.Fatalf("line %d: %v", i, l)
		}
	}
	if end := lines[last]; end["kind"] != "end" || end["records"] != float64(last) || end["truncated"] != false {
		t.Fatalf("trailer %v", end)
	}
	// Only the support chat's messages.
	lines = get(rng(before, time.Now().Add(time.Hour)) + "&types=Message&services=support")
	if len(lines) != 2 || lines[0]["service"] != "support" {
		t.Fatalf("filtered export %v", lines)
	}
	// A range that ends before the first record, and one after the newest.
	lines = get(rng(before, before.Add(time.Minute)))
	if len(lines) != 1 || lines[0]["records"] != float64(0) {
		t.Fatalf("empty range %v", lines)
	}
	lines = get(rng(time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)))
	if len(lines) != 1 || lines[0]["records"] != float64(0) {
		t.Fatalf("range after the newest record %v", lines)
	}
	for _, q := range []string{"", "from=x&to=y", rng(time.Now(), before)} {
		resp, err := http.DefaultClient.Do(e.req("GET", "/feed/export?"+q, ""))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("export %q: %d, want 400", q, resp.StatusCode)
		}
	}
}
