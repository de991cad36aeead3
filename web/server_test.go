package web

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestHealthAndReadiness(t *testing.T) {
	var storeErr atomic.Pointer[error]
	s := NewServer(ServerOptions{Ready: ReadyFunc(func(ctx context.Context) error {
		if p := storeErr.Load(); p != nil {
			return *p
		}
		return nil
	})})
	ts := httptest.NewServer(s)
	defer ts.Close()

	if code, body := get(t, ts.URL+HealthzPath); code != 200 || body != "ok\n" {
		t.Fatalf("healthz = %d %q", code, body)
	}
	if code, body := get(t, ts.URL+ReadyzPath); code != 200 || body != "ready\n" {
		t.Fatalf("readyz = %d %q", code, body)
	}
	down := errors.New("store unreachable")
	storeErr.Store(&down)
	if code, body := get(t, ts.URL+ReadyzPath); code != 503 || !strings.Contains(body, "store unreachable") {
		t.Fatalf("readyz with a failing store = %d %q", code, body)
	}
	if code, _ := get(t, ts.URL+HealthzPath); code != 200 {
		t.Fatalf("healthz must not depend on the store, got %d", code)
	}
	storeErr.Store(nil)
	s.StartDraining()
	if code, body := get(t, ts.URL+ReadyzPath); code != 503 || !strings.Contains(body, "draining") || !s.Draining() {
		t.Fatalf("readyz while draining = %d %q", code, body)
	}
	if code, _ := get(t, ts.URL+HealthzPath); code != 200 {
		t.Fatalf("healthz while draining = %d", code)
	}
}

func TestReadyCheckIsBounded(t *testing.T) {
	s := NewServer(ServerOptions{ReadyTimeout: 50 * time.Millisecond, Ready: ReadyFunc(func(ctx context.Context) error {
		<-ctx.Done() // a wedged store: only the deadline ends the check
		return ctx.Err()
	})})
	ts := httptest.NewServer(s)
	defer ts.Close()
	start := time.Now()
	code, body := get(t, ts.URL+ReadyzPath)
	if code != 503 || !strings.Contains(body, "deadline") {
		t.Fatalf("readyz = %d %q", code, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("readyz took %s", d)
	}
}

func TestMetricsServesGoAndProcessCollectors(t *testing.T) {
	ts := httptest.NewServer(NewServer(ServerOptions{}))
	defer ts.Close()
	code, body := get(t, ts.URL+MetricsPath)
	if code != 200 {
		t.Fatalf("metrics = %d", code)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "process_resident_memory_bytes"} {
		if !strings.Contains(body, "\n"+name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// TestRoutes checks that every suffix of /genesys/cometd reaches the Bayeux handler (the
// CometD client appends /handshake, /connect, ...), without a redirect, and that adapters
// can add routes beside it.
func TestRoutes(t *testing.T) {
	bayeux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "bayeux "+r.URL.Path)
	})
	s := NewServer(ServerOptions{Bayeux: bayeux})
	s.HandleFunc("POST /genesys/2/chat/{service}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "gms "+r.PathValue("service"))
	})
	ts := httptest.NewServer(s)
	defer ts.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/genesys/cometd", "/genesys/cometd/", "/genesys/cometd/handshake", "/genesys/cometd/connect"} {
		resp, err := client.Post(ts.URL+p, "application/json", strings.NewReader("[]"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "bayeux "+p {
			t.Errorf("POST %s = %d %q", p, resp.StatusCode, b)
		}
	}
	resp, err := client.Post(ts.URL+"/genesys/2/chat/support", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "gms support" {
		t.Errorf("adapter route = %d %q", resp.StatusCode, b)
	}
	if code, _ := get(t, ts.URL+"/nope"); code != 404 {
		t.Errorf("unknown path = %d", code)
	}
}

// TestAccessLogKeepsFlushAndHijack runs the debug access log in front of a long-poll style
// handler that flushes and a websocket style handler that hijacks, and checks both work and
// are logged without the query string.
func TestAccessLogKeepsFlushAndHijack(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	release := make(chan struct{})
	bayeux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/genesys/cometd/poll":
			_, _ = io.WriteString(w, "first\n")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("flush through access log: %v", err)
			}
			w.(http.Flusher).Flush()
			<-release
			_, _ = io.WriteString(w, "second\n")
		case "/genesys/cometd/ws":
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Error("access log hides http.Hijacker")
				return
			}
			conn, brw, err := hj.Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			defer conn.Close()
			_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhello")
			_ = brw.Flush()
		}
	})
	ts := httptest.NewServer(NewServer(ServerOptions{Logger: log, Bayeux: bayeux}))
	defer ts.Close()

	// Long-poll: the first chunk must arrive while the handler is still holding.
	resp, err := http.Get(ts.URL + "/genesys/cometd/poll?message=secureKey%3Dsecret")
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first flushed chunk = %q, %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(r)
	resp.Body.Close()
	if string(rest) != "second\n" {
		t.Fatalf("rest = %q", rest)
	}

	// Websocket-style upgrade.
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /genesys/cometd/ws HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(got), "HTTP/1.1 101") || !strings.HasSuffix(string(got), "hello") {
		t.Fatalf("upgrade response = %q", got)
	}

	waitFor(t, func() bool { return strings.Count(logs.String(), "msg=\"http request\"") >= 2 })
	out := logs.String()
	for _, want := range []string{"path=/genesys/cometd/poll", "status=200", "path=/genesys/cometd/ws", "status=101", "hijacked=true", "request_id="} {
		if !strings.Contains(out, want) {
			t.Errorf("access log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Errorf("access log leaks the query string:\n%s", out)
	}
}

func TestNoAccessLogAboveDebug(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s := NewServer(ServerOptions{Logger: log})
	if s.accessLog {
		t.Fatal("access log installed at info level")
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	get(t, ts.URL+HealthzPath)
	if logs.String() != "" {
		t.Fatalf("logged at info: %s", logs.String())
	}
}

// syncBuffer is a goroutine-safe log sink: the access log writes after the response is sent.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor is testwait.Until with this package's 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testwait.Until(t, 5*time.Second, "condition", cond)
}
