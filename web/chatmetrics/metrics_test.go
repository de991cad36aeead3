package chatmetrics_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
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
	"github.com/chatgate/chatgate/web"
	"github.com/chatgate/chatgate/web/chatmetrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// logBuf is a goroutine-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// env is the real chat core on embedded JetStream (manual clock), with the metrics
// registered on a real web.Server scraped over loopback HTTP.
type env struct {
	t       *testing.T
	dir     string
	conn    *natsserver.Conn
	clock   *chatcore.ManualClock
	core    *chatcore.Core
	metrics *chatmetrics.Metrics
	srv     *httptest.Server
	log     *logBuf
}

func newEnv(t *testing.T, dir string, maxServices int) *env {
	t.Helper()
	ctx := context.Background()
	conn, err := natsserver.Start(ctx, natsserver.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	store, err := jetstore.Open(ctx, conn, jetstore.Options{})
	if err != nil {
		conn.Close(ctx)
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, conn: conn, clock: chatcore.NewManualClock(t0), log: &logBuf{}}
	e.core, err = chatcore.New(ctx, chatcore.Config{Store: store, Clock: e.clock, NodeName: "n1", DeferTimers: true})
	if err != nil {
		conn.Close(ctx)
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e.metrics = chatmetrics.New(chatmetrics.Config{Core: e.core, Logger: logger, MaxServices: maxServices})
	e.core.StartTimers()
	surface := web.NewServer(web.ServerOptions{})
	surface.Registry().MustRegister(e.metrics)
	e.srv = httptest.NewServer(surface)
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	if e.srv == nil {
		return
	}
	e.srv.Close()
	e.metrics.Close()
	e.core.Close()
	e.conn.Close(context.Background())
	e.srv = nil
}

// scrape returns the samples of /metrics as "name{labels}" → value.
func (e *env) scrape() map[string]string {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + web.MetricsPath)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			out[line[:i]] = line[i+1:]
		}
	}
	return out
}

// waitMetric polls /metrics until sample has value want (timer actions run on the core's
// workers, so their effect on the metrics lands shortly after the clock moved).
func (e *env) waitMetric(sample, want string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, ok := e.scrape()[sample]
		if ok && got == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s = %q (present %v), want %s", sample, got, ok, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) expect(want map[string]string) {
	e.t.Helper()
	got := e.scrape()
	for k, v := range want {
		if got[k] != v {
			e.t.Errorf("%s = %q, want %s", k, got[k], v)
		}
	}
}

func TestChatLifecycleOnMetricsAndLog(t *testing.T) {
	e := newEnv(t, t.TempDir(), 0)
	ctx := context.Background()
	c, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "support", Nickname: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "support", Nickname: "Bob",
		UserData: map[string]string{chatcore.PropAsyncMode: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	e.expect(map[string]string{
		`chatgate_chat_created_total{service="support"}`:               "2",
		`chatgate_chat_open{async_status="sync",service="support"}`:    "1",
		`chatgate_chat_open{async_status="created",service="support"}`: "1",
		`chatgate_chat_timers_armed`:                                   "2",
	})

	if _, err := e.core.SendMessage(ctx, c.ChatID, c.UserID, "hello", ""); err != nil {
		t.Fatal(err)
	}
	agent, _, err := e.core.Join(ctx, c.ChatID, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: "Agent"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := e.core.SendMessage(ctx, c.ChatID, agent.UserID, "hi", ""); err != nil {
			t.Fatal(err)
		}
	}
	// An agent joining the async chat moves it to processing (-1).
	if _, _, err := e.core.Join(ctx, a.ChatID, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: "Agent"}); err != nil {
		t.Fatal(err)
	}
	e.expect(map[string]string{
		`chatgate_chat_messages_total{direction="in",service="support"}`:  "1",
		`chatgate_chat_messages_total{direction="out",service="support"}`: "2",
		`chatgate_chat_open{async_status="created",service="support"}`:    "0",
		`chatgate_chat_open{async_status="processing",service="support"}`: "1",
	})

	if _, err := e.core.Disconnect(ctx, c.ChatID, c.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.core.EndChat(ctx, a.ChatID, ""); err != nil {
		t.Fatal(err)
	}
	e.expect(map[string]string{
		`chatgate_chat_ended_total{reason="customer_left",service="support"}`:   "1",
		`chatgate_chat_ended_total{reason="ended_by_server",service="support"}`: "1",
		`chatgate_chat_open{async_status="sync",service="support"}`:             "0",
		`chatgate_chat_open{async_status="processing",service="support"}`:       "0",
	})

	logs := e.log.String()
	for _, want := range []string{
		fmt.Sprintf(`msg="chat created" chat=%s service=support async=false`, c.ChatID),
		fmt.Sprintf(`msg="chat created" chat=%s service=support async=true`, a.ChatID),
		fmt.Sprintf(`msg="chat ended" chat=%s service=support reason=customer_left`, c.ChatID),
		fmt.Sprintf(`msg="chat ended" chat=%s service=support reason=ended_by_server`, a.ChatID),
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for _, secret := range []string{c.SecureKey, a.SecureKey, "hello"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains a secret or a text %q:\n%s", secret, logs)
		}
	}
}

// A timer ending a chat (flex-disconnect-timeout: the customer went silent) is counted with
// its reason, and the chat leaves the open gauge and the armed timers.
func TestTimerEndCountedWithReason(t *testing.T) {
	e := newEnv(t, t.TempDir(), 0)
	c, err := e.core.CreateChat(context.Background(), chatcore.CreateRequest{Service: "s", Nickname: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	e.expect(map[string]string{`chatgate_chat_timers_armed`: "1"})
	e.clock.Advance(chatcore.DefaultOptions().Settings.FlexDisconnectTimeout + time.Second)
	e.waitMetric(`chatgate_chat_ended_total{reason="protocol_inactivity",service="s"}`, "1")
	e.expect(map[string]string{
		`chatgate_chat_open{async_status="sync",service="s"}`: "0",
		`chatgate_chat_timers_armed`:                          "0",
	})
	if !strings.Contains(e.log.String(), fmt.Sprintf(`msg="chat ended" chat=%s service=s reason=protocol_inactivity`, c.ChatID)) {
		t.Errorf("no ended line:\n%s", e.log.String())
	}
}

// A client cannot mint unbounded label values through service names.
func TestServiceLabelsBounded(t *testing.T) {
	e := newEnv(t, t.TempDir(), 2)
	for _, svc := range []string{"a", "b", "c", "d"} {
		if _, err := e.core.CreateChat(context.Background(), chatcore.CreateRequest{Service: svc, Nickname: "N"}); err != nil {
			t.Fatal(err)
		}
	}
	got := e.scrape()
	e.expect(map[string]string{
		`chatgate_chat_created_total{service="a"}`:                 "1",
		`chatgate_chat_created_total{service="b"}`:                 "1",
		`chatgate_chat_created_total{service="_other"}`:            "2",
		`chatgate_chat_open{async_status="sync",service="_other"}`: "2",
	})
	for k := range got {
		if strings.Contains(k, `service="c"`) || strings.Contains(k, `service="d"`) {
			t.Errorf("unbounded service label: %s", k)
		}
	}
}

// After a restart the chats already open are in the gauge, and are not counted as created.
func TestOpenChatsSeededAfterRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, 0)
	ctx := context.Background()
	var live []chatcore.Created
	for i := range 3 {
		c, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "s", Nickname: fmt.Sprint("N", i)})
		if err != nil {
			t.Fatal(err)
		}
		live = append(live, c)
	}
	if _, err := e.core.Disconnect(ctx, live[0].ChatID, live[0].UserID); err != nil {
		t.Fatal(err)
	}
	e.close()

	e2 := newEnv(t, dir, 0)
	got := e2.scrape()
	if v := got[`chatgate_chat_open{async_status="sync",service="s"}`]; v != "2" {
		t.Errorf("open after restart = %q, want 2", v)
	}
	if v, ok := got[`chatgate_chat_created_total{service="s"}`]; ok {
		t.Errorf("created after restart = %s, want no sample (nothing was created by this process)", v)
	}
}
