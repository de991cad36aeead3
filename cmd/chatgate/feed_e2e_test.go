package main

import (
	"bufio"
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

// sseRead reads the feed's event stream from seq from until a heartbeat comes after at
// least one record (the stream is idle: everything stored so far was sent).
func sseRead(t *testing.T, p *process, from uint64) []feed.Record {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url(FeedEventsPath+"?from="+strconv.FormatUint(from, 10)), nil)
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
		if line == ": heartbeat" && len(out) > 0 {
			return out
		}
	}
	t.Fatalf("event stream ended after %d records: %v", len(out), sc.Err())
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
	stored := sseRead(t, q, 1)
	want := 0
	for _, r := range stored {
		if r.Kind == feed.KindEvent && r.Event.Type == "Message" {
			want++
		}
	}
	if want != 6 {
		t.Fatalf("feed holds %d messages, want 6: %+v", want, stored)
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
