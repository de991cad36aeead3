package feed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/jetstore"
	"github.com/chatgate/chatgate/chatcore/sweep"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/internal/testwait"
	"github.com/chatgate/chatgate/web/adminauth"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// lockedBuffer is a log destination the sweeper's goroutine writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// retentionEnv is the real chat core on embedded JetStream on a manual clock, the feed as
// its listener, the feed API over httptest, and a sweeper with retention 1 h (passes every
// minute) exporting into dir before each purge.
type retentionEnv struct {
	t     *testing.T
	clock *chatcore.ManualClock
	core  *chatcore.Core
	feed  *Feed
	arch  *Archive
	sw    *sweep.Sweeper
	dir   string
	logs  *lockedBuffer
	srv   *httptest.Server
}

const sweepEvery = time.Minute

func newRetentionEnv(t *testing.T) *retentionEnv {
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
	e := &retentionEnv{t: t, clock: chatcore.NewManualClock(t0), dir: filepath.Join(t.TempDir(), "exports"), logs: &lockedBuffer{}}
	if e.feed, err = Open(ctx, Config{JS: conn.JS, Now: e.clock.Now}); err != nil {
		t.Fatal(err)
	}
	if e.core, err = chatcore.New(ctx, chatcore.Config{
		Store: store, Clock: e.clock, NodeName: "node-1", Options: chatcore.StaticOptions(chatcore.DefaultOptions()),
		Listeners: []chatcore.Listener{e.feed},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.core.Close)
	if e.arch, err = NewArchive(ArchiveConfig{Dir: e.dir, Chats: e.core}); err != nil {
		t.Fatal(err)
	}
	e.sw = sweep.New(sweep.Config{
		Core: e.core, Clock: e.clock, Retention: time.Hour, Interval: sweepEvery, Export: e.arch,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)),
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.sw.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	auth, err := adminauth.New(adminauth.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	h, err := Handler(APIConfig{Feed: e.feed, Auth: auth, Heartbeat: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/workflow/v1/feed/", http.StripPrefix("/workflow/v1", h))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// advance moves the clock by d in steps of the sweep interval, waiting for each pass.
func (e *retentionEnv) advance(d time.Duration) {
	e.t.Helper()
	for end := e.clock.Now().Add(d); e.clock.Now().Before(end); {
		n := e.sw.Passes()
		e.clock.Advance(sweepEvery)
		testwait.Until(e.t, 10*time.Second, "a sweep pass", func() bool {
			if e.sw.Passes() > n {
				return true
			}
			// The first timer may have been armed just after the clock moved: move on to it.
			if e.clock.Pending() > 0 && e.sw.Passes() == 0 {
				e.clock.Advance(sweepEvery)
			}
			return false
		})
	}
}

// endedChat makes a chat with a customer, an agent, messages and a notice whose userData
// holds a secret, and ends it now; it returns the chat's transcript.
func (e *retentionEnv) endedChat(secret string) (string, []chatcore.Event) {
	e.t.Helper()
	ctx := context.Background()
	cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "sales", Nickname: "Ann", UserData: map[string]string{"ChatServerWebapiToken": secret}})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, _, err := e.core.Join(ctx, cr.ChatID, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: "Bob", UserID: "agent-1"}); err != nil {
		e.t.Fatal(err)
	}
	for _, m := range []string{"hello", "my invoice"} {
		if _, err := e.core.SendMessage(ctx, cr.ChatID, cr.UserID, m, ""); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.core.SystemNotice(ctx, cr.ChatID, "case opened", map[string]string{"caseToken": secret, "case": "C-7"}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.core.Leave(ctx, cr.ChatID, cr.UserID, chatcore.QuitLogout); err != nil {
		e.t.Fatal(err)
	}
	p, err := e.core.EventsPage(ctx, cr.ChatID, 1, 0, 0)
	if err != nil || p.More {
		e.t.Fatalf("transcript: %v more=%v", err, p.More)
	}
	return cr.ChatID, p.Events
}

// purgeRecords opens an SSE stream of purged records from the start and returns those that
// arrive within wait.
func (e *retentionEnv) purgeRecords(wait time.Duration, want int) []Record {
	e.t.Helper()
	r, _ := http.NewRequest("GET", e.srv.URL+"/workflow/v1/feed/events?from=1&types=purged", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	ch := make(chan sseEvent, 100)
	go readSSE(resp.Body, ch, new(int), &sync.Mutex{})
	defer func() {
		resp.Body.Close()
		for range ch {
		}
	}()
	var out []Record
	deadline := time.After(wait)
	for len(out) < want {
		select {
		case ev := <-ch:
			out = append(out, ev.rec)
		case <-deadline:
			return out
		}
	}
	return out
}

// recordSchema compiles the record schema this build serves (formats asserted).
func recordSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := SchemaFile(RecordSchema)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("urn:chatgate:feed:record:v1", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("urn:chatgate:feed:record:v1")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// validateExport reads an exported file and checks it against schema v1 (docs/workflow.md):
// every line valid under the served record schema, a record of this chat, the events in
// index order and equal to the transcript, then the chat's last properties, then the
// trailer counting them.
func validateExport(t *testing.T, path, chatID string, transcript []chatcore.Event) string {
	t.Helper()
	sch := recordSchema(t)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != len(transcript)+2 {
		t.Fatalf("%d lines for %d events:\n%s", len(lines), len(transcript), raw)
	}
	for i, l := range lines {
		validate(t, sch, "export line "+strconv.Itoa(i+1), []byte(l))
	}
	for i, ev := range transcript {
		dec := json.NewDecoder(strings.NewReader(lines[i]))
		dec.DisallowUnknownFields()
		var r Record
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, lines[i])
		}
		if r.V != SchemaVersion || r.Kind != KindEvent || r.ChatID != chatID || r.Service != "sales" || r.Event == nil ||
			r.Event.Index != ev.Index || r.Event.Type != ev.Type || r.Event.Text != ev.Text || r.LastIndex != ev.Index ||
			!r.Time.Equal(time.UnixMilli(ev.UTCTime)) {
			t.Fatalf("line %d: %s, want event %+v", i+1, lines[i], ev)
		}
	}
	var props Record
	if err := json.Unmarshal([]byte(lines[len(transcript)]), &props); err != nil || props.Kind != KindProperties ||
		props.Properties[chatcore.PropIsOnline] != "false" || props.LastIndex != transcript[len(transcript)-1].Index {
		t.Fatalf("properties line: %v %s", err, lines[len(transcript)])
	}
	var end struct {
		V         int    `json:"v"`
		Kind      string `json:"kind"`
		Records   int    `json:"records"`
		Truncated bool   `json:"truncated"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &end); err != nil || end.V != 1 || end.Kind != "end" || end.Records != len(lines)-1 || end.Truncated {
		t.Fatalf("trailer: %v %s", err, lines[len(lines)-1])
	}
	return string(raw)
}

// TestRetentionExportsThenPurges: a chat past retention is exported (its file validates
// against schema v1, secrets redacted), then purged, and the purge is a record in the feed
// delivered over SSE; a chat that ended later is neither exported nor purged yet.
func TestRetentionExportsThenPurges(t *testing.T) {
	e := newRetentionEnv(t)
	const secret = "tok-5ecret-value"
	old, transcript := e.endedChat(secret)
	endedAt := e.clock.Now()
	e.advance(30 * time.Minute)
	recent, _ := e.endedChat(secret)
	e.advance(31 * time.Minute) // old ended 61 min ago, recent 31 min ago
	if _, err := e.core.Chat(old); !errors.Is(err, chatcore.ErrChatNotFound) {
		t.Fatalf("the old chat after retention: %v", err)
	}
	file := validateExport(t, e.arch.Path(old), old, transcript)
	if strings.Contains(file, secret) || !strings.Contains(file, `"caseToken":"[redacted]"`) || !strings.Contains(file, `"case":"C-7"`) {
		t.Fatalf("export carries a secret or lost the notice's userData:\n%s", file)
	}
	if _, err := e.core.Chat(recent); err != nil {
		t.Fatalf("the recent chat: %v", err)
	}
	if _, err := os.Stat(e.arch.Path(recent)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the recent chat exported already: %v", err)
	}
	tmp, _ := filepath.Glob(filepath.Join(e.dir, ".*"))
	if len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
	recs := e.purgeRecords(10*time.Second, 1)
	if len(recs) != 1 || recs[0].ChatID != old || recs[0].Service != "sales" || recs[0].Purge == nil ||
		!recs[0].Purge.EndedAt.Equal(endedAt) || recs[0].Purge.PurgedAt.Before(endedAt.Add(time.Hour)) ||
		recs[0].LastIndex != transcript[len(transcript)-1].Index {
		t.Fatalf("purge records %+v", recs)
	}
	if st := e.sw.Stats(); st.Exported != 1 || st.Purged != 1 || st.ExportFailures != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The purge record is the chat's last record.
	cur, err := e.feed.Read(context.Background(), recs[0].Seq+1)
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, err := cur.Next(context.Background(), 100*time.Millisecond)
		if errors.Is(err, ErrNoRecord) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.ChatID == old {
			t.Fatalf("a record of the purged chat after its purge: %+v", r)
		}
	}
}

// TestRetentionExportFailureKeepsChat: while the export directory cannot be written (its
// path is a regular file: root ignores permission bits), a chat past retention is kept, the
// failure counted and logged, and no purge record appears; once the directory is back the
// next pass exports and purges it.
func TestRetentionExportFailureKeepsChat(t *testing.T) {
	e := newRetentionEnv(t)
	id, transcript := e.endedChat("tok-x")
	if err := os.Remove(e.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.dir, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.advance(62 * time.Minute)
	if _, err := e.core.Chat(id); err != nil {
		t.Fatalf("the chat after failed exports: %v", err)
	}
	st := e.sw.Stats()
	if st.ExportFailures < 2 || st.Purged != 0 || st.Exported != 0 {
		t.Fatalf("stats %+v, want export failures at two passes and no purge", st)
	}
	if !strings.Contains(e.logs.String(), "export failed, chat kept") {
		t.Fatalf("log: %s", e.logs.String())
	}
	if recs := e.purgeRecords(300*time.Millisecond, 1); len(recs) != 0 {
		t.Fatalf("purge records while the export fails: %+v", recs)
	}
	// The directory is back: the next pass exports, then purges.
	if err := os.Remove(e.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(e.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	e.advance(sweepEvery)
	if _, err := e.core.Chat(id); !errors.Is(err, chatcore.ErrChatNotFound) {
		t.Fatalf("the chat after the directory came back: %v", err)
	}
	validateExport(t, e.arch.Path(id), id, transcript)
	if recs := e.purgeRecords(10*time.Second, 1); len(recs) != 1 || recs[0].ChatID != id {
		t.Fatalf("purge records %+v", recs)
	}
}
