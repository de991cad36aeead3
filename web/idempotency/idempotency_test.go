package idempotency

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/internal/natsserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConcurrentCallsActOnce: calls with one key racing each other (as a browser's retry of
// a POST that is still running) act once; the others get 409 while it runs and its answer
// afterwards; namespaces and scopes keep equal keys apart. Real KV on the embedded
// JetStream.
func TestConcurrentCallsActOnce(t *testing.T) {
	ctx := context.Background()
	conn, err := natsserver.Start(ctx, natsserver.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	kv, err := conn.KV(ctx, jetstream.KeyValueConfig{Bucket: Bucket})
	if err != nil {
		t.Fatal(err)
	}
	var acted atomic.Int32
	release := make(chan struct{})
	entered := make(chan struct{}, 16)
	act := func(w http.ResponseWriter, r *http.Request) {
		n := acted.Add(1)
		entered <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"n":`+strconv.Itoa(int(n))+`}`)
	}
	scoped := func(ns string) http.Handler {
		return New(Config{KV: kv, Namespace: ns, Scope: func(r *http.Request) string { return r.Header.Get("X-Caller") }}).Wrap(act)
	}
	mux := http.NewServeMux()
	mux.Handle("/a/", http.StripPrefix("/a", scoped("a")))
	mux.Handle("/b/", http.StripPrefix("/b", scoped("b")))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(path, caller, key string) (int, string, bool) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(`{"text":"x"}`))
		req.Header.Set(HeaderKey, key)
		req.Header.Set("X-Caller", caller)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, "", false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Get(HeaderReplayed) == "true"
	}

	var first struct {
		code int
		body string
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		first.code, first.body, _ = post("/a/send", "ann", "k")
	}()
	<-entered // the first call is acting now
	for range 4 {
		if code, body, _ := post("/a/send", "ann", "k"); code != http.StatusConflict || !strings.Contains(body, "idempotency_in_progress") {
			t.Fatalf("while the first runs: %d %s", code, body)
		}
	}
	close(release)
	wg.Wait()
	if first.code != 200 {
		t.Fatalf("first: %d %s", first.code, first.body)
	}
	if code, body, replayed := post("/a/send", "ann", "k"); code != 200 || !replayed || body != first.body {
		t.Fatalf("after it: %d %s %v, want the first answer %s", code, body, replayed, first.body)
	}
	// Another caller, another namespace: their own keys.
	for _, c := range []struct{ path, caller string }{{"/a/send", "bob"}, {"/b/send", "ann"}} {
		if code, _, replayed := post(c.path, c.caller, "k"); code != 200 || replayed {
			t.Fatalf("%s by %s: %d replayed=%v", c.path, c.caller, code, replayed)
		}
		<-entered
	}
	if n := acted.Load(); n != 3 {
		t.Fatalf("acted %d times, want 3", n)
	}
}
