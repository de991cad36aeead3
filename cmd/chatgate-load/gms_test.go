package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The GMS modes need the whole binary (chat core on JetStream, GMS adapter, Bayeux): the
// tests build cmd/chatgate once and run it on loopback with a temporary --data.

var (
	chatgateOnce sync.Once
	chatgateDir  string
	chatgateBin  string
	chatgateErr  error
)

func chatgateBinary(t *testing.T) string {
	t.Helper()
	chatgateOnce.Do(func() {
		chatgateDir, chatgateErr = os.MkdirTemp("", "chatgate-load-bin-")
		if chatgateErr != nil {
			return
		}
		chatgateBin = filepath.Join(chatgateDir, "chatgate")
		out, err := exec.Command("go", "build", "-o", chatgateBin, "github.com/chatgate/chatgate/cmd/chatgate").CombinedOutput()
		if err != nil {
			chatgateErr = err
			t.Logf("go build: %s", out)
		}
	})
	if chatgateErr != nil {
		t.Fatal(chatgateErr)
	}
	return chatgateBin
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startChatgate runs the binary on data and stops it (SIGTERM) at the end of the test.
// unlimitedChats lifts chatgate's per-chat limits (event rate, transcript size) and the
// per-address limits (Bayeux handshakes, GMS REST chat creations and requests): these runs
// send as fast as they can into few chats, and every customer comes from 127.0.0.1, which is
// throughput measurement, not abuse.
var unlimitedChats = []string{"--chat-event-rate", "1000000000", "--chat-event-burst", "1000000000",
	"--chat-max-events", "1000000000", "--chat-max-transcript-bytes", "1000000000000",
	"--bayeux-handshakes-per-minute", "0", "--chat-creates-per-minute", "0", "--rest-requests-per-minute", "0"}

func startChatgate(t *testing.T, data string) *serverProc {
	t.Helper()
	p, err := startServer(t.Context(), chatgateBinary(t), data, unlimitedChats, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.waitReadyz(t.Context(), p.baseURL()); err != nil {
		p.kill()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		if _, err := p.stop(); err != nil {
			t.Errorf("stopping chatgate: %v", err)
		}
	})
	return p
}

func gmsConfig(url, mode, transport string, customers, messages int) Config {
	return Config{
		URL: url, Mode: mode, Transport: transport, PubTransport: transport, Clients: customers, Messages: messages,
		Service: "customer-support", Async: true, Size: 60, Sources: 2, Concurrency: 4, Procs: 1,
		Duration: time.Minute, Channels: 1,
	}
}

// checkGMS asserts that every chat was created and every message acknowledged, exactly once,
// with a latency recorded for each, and that no protocol incident was counted.
func checkGMS(t *testing.T, sum Summary, customers, messages int) {
	t.Helper()
	g := sum.GMS
	if g == nil {
		t.Fatalf("no GMS result: %+v", sum)
	}
	want := int64(customers * messages)
	if g.Customers != int64(customers) || g.Created != int64(customers) || g.CreateFailed != 0 {
		t.Fatalf("customers %d created %d failed %d, want %d/%d/0; errors %v", g.Customers, g.Created, g.CreateFailed, customers, customers, sum.Errors)
	}
	if g.Sent != want || g.Acked != want || g.SendFailed != 0 || g.NotSent != 0 {
		t.Fatalf("sent %d acked %d failed %d not sent %d, want %d acknowledged; errors %v", g.Sent, g.Acked, g.SendFailed, g.NotSent, want, sum.Errors)
	}
	r := sum.GMSRates
	if r == nil || r.Create.N != g.Created || r.Send.N != g.Acked {
		t.Fatalf("latency counts %+v, want %d creates and %d sends", r, g.Created, g.Acked)
	}
	if r.Create.P50 <= 0 || r.Create.Max < r.Create.P99 || (want > 0 && (r.Send.P50 <= 0 || r.MessagesPerSec <= 0)) || r.CreatesPerSec <= 0 {
		t.Fatalf("rates/latencies not computed: %+v", r)
	}
	for name := range sum.Events {
		if name != "connect" {
			t.Errorf("incident counted: %s=%d", name, sum.Events[name])
		}
	}
	if len(sum.Errors) > 0 {
		t.Errorf("errors: %v", sum.Errors)
	}
}

func TestGMSModesAgainstTheBinary(t *testing.T) {
	data := t.TempDir()
	p := startChatgate(t, data)
	url := p.baseURL() + "/genesys/cometd"
	created := 0
	for _, tc := range []struct {
		mode, transport     string
		customers, messages int
	}{
		{"gms-rest", "websocket", 5, 6},
		{"gms-cometd", "websocket", 4, 5},
		{"gms-cometd", "long-polling", 3, 5},
	} {
		t.Run(tc.mode+"/"+tc.transport, func(t *testing.T) {
			cfg := gmsConfig(url, tc.mode, tc.transport, tc.customers, tc.messages)
			sum, err := runGMS(t.Context(), cfg, options{}, nil, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			checkGMS(t, sum, tc.customers, tc.messages)
			if tc.mode == "gms-cometd" && sum.Opened != int64(tc.customers) {
				t.Fatalf("sessions opened %d, want %d", sum.Opened, tc.customers)
			}
		})
		created += tc.customers
	}
	if t.Failed() {
		return
	}
	// The server agrees: restarted on the same data, it loads every chat the runs created.
	if _, err := p.stop(); err != nil {
		t.Fatal(err)
	}
	cfg := gmsConfig("", "gms-startup", "", 0, 0)
	cfg.Chats = 0
	sum, err := runGMS(t.Context(), cfg, options{Bin: chatgateBinary(t), Data: data, Restarts: 1}, nil, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if s := sum.Startup; s == nil || len(s.Runs) != 1 || s.Runs[0].ChatsLoaded != int64(created) {
		t.Fatalf("restart loaded %+v, want %d chats", sum.Startup, created)
	}
}

func TestGMSDurationStopsTheRun(t *testing.T) {
	p := startChatgate(t, t.TempDir())
	cfg := gmsConfig(p.baseURL()+"/genesys/cometd", "gms-rest", "", 2, 1000000)
	cfg.Duration = 300 * time.Millisecond
	start := time.Now()
	sum, err := runGMS(t.Context(), cfg, options{}, nil, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatalf("run took %s with -duration 300ms", time.Since(start))
	}
	g := sum.GMS
	if g.Created != 2 || g.Acked == 0 || g.Acked != g.Sent || g.SendFailed != 0 || g.NotSent == 0 || g.Sent+g.NotSent != 2*1000000 {
		t.Fatalf("created %d sent %d acked %d failed %d not sent %d", g.Created, g.Sent, g.Acked, g.SendFailed, g.NotSent)
	}
	if sum.Events["stopped-by-duration"] == 0 {
		t.Fatalf("stop not reported: %v", sum.Events)
	}
}

func TestGMSStartupSeedsAndRestarts(t *testing.T) {
	data := t.TempDir()
	cfg := gmsConfig("", "gms-startup", "", 0, 0)
	cfg.Chats, cfg.Concurrency = 12, 3
	opts := options{Bin: chatgateBinary(t), Data: data, Restarts: 2, GCWait: 100 * time.Millisecond}
	sum, err := runGMS(t.Context(), cfg, opts, nil, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	s := sum.Startup
	if s == nil || s.Seeded != 12 || len(s.Runs) != 2 {
		t.Fatalf("startup %+v", s)
	}
	if m := s.Seed; m == nil || m.Sessions != 12 || m.After["go_memstats_heap_inuse_bytes"] <= 0 || m.Before["process_resident_memory_bytes"] <= 0 || m.GCAfter == nil {
		t.Fatalf("seed memory %+v", s.Seed)
	}
	for i, r := range s.Runs {
		if r.ChatsLoaded != 12 || r.CoreReadyMS <= 0 || r.ListeningMS < r.CoreReadyMS || r.ReadyzMS < r.ListeningMS || r.StopMS <= 0 || r.RSSBytes <= 0 {
			t.Fatalf("run %d: %+v", i, r)
		}
	}
	var b strings.Builder
	sum.Print(&b)
	for _, want := range []string{"server memory per chat", "start 2: chats loaded 12"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

func TestGMSRESTProcsSplitCustomers(t *testing.T) {
	p := startChatgate(t, t.TempDir())
	t.Setenv(childEnv, "1")
	url := p.baseURL() + "/genesys/cometd"
	cfg := gmsConfig(url, "gms-rest", "", 5, 3)
	cfg.Procs = 2
	args := []string{"-mode", "gms-rest", "-url", url, "-clients", "5", "-messages", "3", "-procs", "2", "-sources", "2", "-duration", "1m"}
	sum, err := runGMS(t.Context(), cfg, options{}, args, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	checkGMS(t, sum, 5, 3)
}

func TestGMSFlags(t *testing.T) {
	for _, bad := range [][]string{
		{"-mode", "gms-rest", "-url", "http://192.0.2.1:8080/genesys/cometd"},
		{"-mode", "gms-nope"},
		{"-mode", "gms-rest", "-messages", "-1"},
	} {
		if _, _, _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	c, o, _, err := parseFlags([]string{"-mode", "gms-idle", "-chats", "50", "-url", "http://localhost:1/genesys/cometd"}, io.Discard)
	if err != nil || c.Chats != 50 || c.Messages != 0 || !c.Async || o.MetricsURL != "http://localhost:1/metrics" {
		t.Fatalf("gms-idle flags: %+v %+v %v", c, o, err)
	}
}

func TestGMSFailureKinds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("sendMessage: %w", &statusError{Status: 1, Code: 600}), "send-failed:status-1-code-600"},
		{&statusError{HTTP: 503, Status: 1, Code: 600}, "send-failed:status-1-code-600"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "send-failed:no-ack-within-30s"},
		{fmt.Errorf("x: %w", errUnsuccessful), "send-failed:publish-refused"},
		{errors.New("dial"), "send-failed:other"},
	} {
		if got := failureKind("send", tc.err); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.err, got, tc.want)
		}
	}
}
