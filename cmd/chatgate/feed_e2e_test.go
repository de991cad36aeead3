package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatgate/chatgate/web/feed"
)

const feedToken = "e2e-feed-token-0123456789"

// hookReceiver accepts webhook deliveries (signature checked) unless holding, when it keeps
// each request open until the sender gives up.
type hookReceiver struct {
	mu       sync.Mutex
	secret   string
	holding  bool
	arrived  int // deliveries that reached the receiver, accepted or not
	accepted []feed.Record
	badSig   int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.arrived++
	secret, holding := h.secret, h.holding
	h.mu.Unlock()
	if !feed.Verify(secret, r.Header.Get(feed.HeaderSignature), r.Header.Get(feed.HeaderTimestamp), body, time.Now(), 5*time.Minute) {
		h.mu.Lock()
		h.badSig++
		h.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if holding {
		<-r.Context().Done()
		return
	}
	var rec feed.Record
	if err := json.Unmarshal(body, &rec); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.accepted = append(h.accepted, rec)
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func feedCall(t *testing.T, p *process, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, p.url(WorkflowPrefix+path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+feedToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// sseRead reads the feed's event stream from seq from until done holds for the records read
// so far, checked at each heartbeat (so records already queued behind the one that made it
// true are read too). A heartbeat alone does not mean everything stored was sent: on a
// loaded machine one can fall between two records. Fails after 30 s.
func sseRead(t *testing.T, p *process, from uint64, done func([]feed.Record) bool) []feed.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.url(FeedEventsPath+"?from="+strconv.FormatUint(from, 10)), nil)
	req.Header.Set("Authorization", "Bearer "+feedToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("event stream: %d", resp.StatusCode)
	}
	var out []feed.Record
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "data: ") {
			var r feed.Record
			if err := json.Unmarshal([]byte(line[6:]), &r); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		if line == ": heartbeat" && done(out) {
			return out
		}
	}
	t.Fatalf("event stream ended after %d records without the awaited ones: %v %+v", len(out), sc.Err(), out)
	return nil
}

// TestFeedWebhookSurvivesSIGKILL: chat events are committed while the webhook endpoint holds
// its deliveries open; chatgate is killed between commit and delivery. After the restart
// every record is delivered (nothing lost), each chat's events in index order, signed; the
// event stream over the real binary shows the same records, and SIGTERM ends an open stream
// promptly.
func TestFeedWebhookSurvivesSIGKILL(t *testing.T) {
	rcv := &hookReceiver{holding: true}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	data := t.TempDir()
	env := []string{"CHATGATE_ADMIN_TOKEN=" + feedToken, "CHATGATE_WEBHOOK_TIMEOUT=1s", "CHATGATE_WEBHOOK_BACKOFF=50ms",
		"CHATGATE_WEBHOOK_BACKOFF_MAX=200ms", "CHATGATE_FEED_HEARTBEAT=300ms"}
	p := startProcessEnv(t, env, "--addr", "127.0.0.1:0", "--data", data)
	var ep feed.Endpoint
	if code := feedCall(t, p, "POST", "/feed/webhooks", `{"url":"`+hook.URL+`/in"}`, &ep); code != 201 || ep.Secret == "" {
		t.Fatalf("create webhook: %d %+v", code, ep)
	}
	rcv.mu.Lock()
	rcv.secret = ep.Secret
	rcv.mu.Unlock()
	var chats []*gmsChat
	for i := range 2 {
		c, _ := createChat(t, p, restSvc, url.Values{"nickname": {fmt.Sprint("Cust", i)}, "userData[GCTI_Chat_AsyncMode]": {"true"}})
		for j := range 3 {
			if r := c.op("send", "message", fmt.Sprintf("c%d m%d", i, j), "transcriptPosition", "0"); r.HTTP != 200 {
				t.Fatalf("send: %+v", r)
			}
		}
		chats = append(chats, c)
	}
	eventually(t, 10*time.Second, "a delivery held at the endpoint", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return rcv.arrived > 0
	})
	p.signal(syscall.SIGKILL)
	p.waitExit(10 * time.Second)
	rcv.mu.Lock()
	if len(rcv.accepted) != 0 {
		t.Fatalf("accepted %d before the kill", len(rcv.accepted))
	}
	rcv.holding = false
	rcv.mu.Unlock()

	q := startProcessEnv(t, env, "--addr", p.addr, "--data", data)
	messages := func(rs []feed.Record) (n int) {
		for _, r := range rs {
			if r.Kind == feed.KindEvent && r.Event.Type == "Message" {
				n++
			}
		}
		return n
	}
	stored := sseRead(t, q, 1, func(rs []feed.Record) bool { return messages(rs) >= 6 })
	if n := messages(stored); n != 6 {
		t.Fatalf("feed holds %d messages, want 6: %+v", n, stored)
	}
	last := stored[len(stored)-1].Seq
	eventually(t, 30*time.Second, "every record delivered after the restart", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return len(rcv.accepted) > 0 && rcv.accepted[len(rcv.accepted)-1].Seq >= last
	})
	rcv.mu.Lock()
	got, bad := append([]feed.Record(nil), rcv.accepted...), rcv.badSig
	rcv.mu.Unlock()
	if bad != 0 {
		t.Fatalf("%d deliveries with a bad signature", bad)
	}
	// At least once: a record may repeat only if it was accepted before; never a gap, never
	// out of order.
	var prev uint64
	perChat := map[string]int64{}
	for _, r := range got {
		if r.Seq == prev {
			continue
		}
		if r.Seq != prev+1 {
			t.Fatalf("delivery seq %d after %d", r.Seq, prev)
		}
		prev = r.Seq
		if r.Kind == feed.KindEvent {
			if r.Event.Index != perChat[r.ChatID]+1 {
				t.Fatalf("chat %s: event %d after %d", r.ChatID, r.Event.Index, perChat[r.ChatID])
			}
			perChat[r.ChatID] = r.Event.Index
		}
	}
	for _, c := range chats {
		if perChat[c.chatID] < 4 { // joined + 3 messages
			t.Fatalf("chat %s: %d events delivered", c.chatID, perChat[c.chatID])
		}
	}

	// An open event stream does not hold up a graceful stop.
	req, _ := http.NewRequest("GET", q.url(FeedEventsPath), nil)
	req.Header.Set("Authorization", "Bearer "+feedToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("event stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	start := time.Now()
	q.signal(syscall.SIGTERM)
	if code := q.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("stop took %s with an open event stream", d)
	}
}

// TestWorkflowOperationsIdempotentOverBinary: the workflow's system message, properties and
// end, each sent twice with one Idempotency-Key against the real binary, act once; the key
// survives a restart (it is in the store, not in memory).
func TestWorkflowOperationsIdempotentOverBinary(t *testing.T) {
	data := t.TempDir()
	env := []string{"CHATGATE_ADMIN_TOKEN=" + feedToken}
	p := startProcessEnv(t, env, "--addr", "127.0.0.1:0", "--data", data)
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Ida"}, "userData[GCTI_Chat_AsyncMode]": {"true"}})
	post := func(p *process, path, key, body string) (int, string, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", p.url(WorkflowPrefix+"/chats/"+c.chatID+path), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+feedToken)
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), m
	}
	code, rep, first := post(p, "/messages", "op-1", `{"text":"from the workflow"}`)
	if code != 200 || rep != "" {
		t.Fatalf("message: %d %q %v", code, rep, first)
	}
	p.signal(syscall.SIGKILL)
	p.waitExit(10 * time.Second)
	q := startProcessEnv(t, env, "--addr", p.addr, "--data", data)
	code, rep, again := post(q, "/messages", "op-1", `{"text":"from the workflow"}`)
	if code != 200 || rep != "true" || again["lastIndex"] != first["lastIndex"] {
		t.Fatalf("repeated after a restart: %d %q %v (first %v)", code, rep, again, first)
	}
	if code, _, m := post(q, "/properties", "op-2", `{"userData":{"tier":"gold"}}`); code != 200 || m["userData"].(map[string]any)["tier"] != "gold" {
		t.Fatalf("properties: %d %v", code, m)
	}
	if code, _, m := post(q, "/end", "op-3", ``); code != 200 || m["ended"] != true {
		t.Fatalf("end: %d %v", code, m)
	}
	if code, rep, m := post(q, "/end", "op-3", ``); code != 200 || rep != "true" || m["ended"] != true {
		t.Fatalf("end again: %d %q %v", code, rep, m)
	}
	// The customer's transcript holds the workflow's message once.
	r := c.op("refresh", "transcriptPosition", "1")
	n := 0
	for _, m := range r.Messages {
		if m.Text == "from the workflow" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the customer sees the message %d times: %+v", n, r.Messages)
	}
}
