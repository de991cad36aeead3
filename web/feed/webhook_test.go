package feed

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/testwait"
)

// receiver is a webhook endpoint on loopback. fail decides per delivery (seq, attempt
// number) how to misbehave: "drop" closes the connection, "hang" never answers (the
// sender's timeout), "500" answers 500, "" accepts.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string

	mu       sync.Mutex
	fail     func(seq uint64, attempt int) string
	attempts map[uint64]int
	accepted []Record
	badSig   int
	onAccept func(Record) // called with mu held
}

func newReceiver(t testing.TB, fail func(uint64, int) string) *receiver {
	rc := &receiver{t: t, fail: fail, attempts: map[uint64]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	seq, _ := strconv.ParseUint(r.Header.Get(HeaderDelivery), 10, 64)
	rc.mu.Lock()
	rc.attempts[seq]++
	n, secret, fail := rc.attempts[seq], rc.secret, rc.fail
	rc.mu.Unlock()
	if !Verify(secret, r.Header.Get(HeaderSignature), r.Header.Get(HeaderTimestamp), body, time.Now(), 5*time.Minute) {
		rc.mu.Lock()
		rc.badSig++
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	mode := ""
	if fail != nil {
		mode = fail(seq, n)
	}
	switch mode {
	case "drop":
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
		return
	case "hang":
		<-r.Context().Done()
		return
	case "500":
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	var rec Record
	if err := json.Unmarshal(body, &rec); err != nil || rec.Seq != seq {
		rc.t.Errorf("delivery %d: %v %s", seq, err, body)
	}
	rc.mu.Lock()
	rc.accepted = append(rc.accepted, rec)
	if rc.onAccept != nil {
		rc.onAccept(rec)
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) snapshot() ([]Record, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Record(nil), rc.accepted...), rc.badSig
}

func (e *env) subscribe(rc *receiver, body string) Endpoint {
	e.t.Helper()
	var ep Endpoint
	if code := e.do("POST", "/feed/webhooks", body, &ep); code != 201 || ep.Secret == "" || ep.ID == "" {
		e.t.Fatalf("create webhook: %d %+v", code, ep)
	}
	rc.mu.Lock()
	rc.secret = ep.Secret
	rc.mu.Unlock()
	return ep
}

// TestWebhookRetries: the endpoint drops the connection, times out and answers 500 before
// it accepts; every record still arrives once accepted, in feed order (so in order per
// chat), signed.
func TestWebhookRetries(t *testing.T) {
	e := newEnv(t, WebhookConfig{MaxAttempts: 5, BackoffBase: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond, Timeout: 300 * time.Millisecond})
	rc := newReceiver(t, func(seq uint64, attempt int) string {
		if seq%3 != 0 {
			return ""
		}
		return [...]string{"", "drop", "hang", "500", ""}[min(attempt, 4)]
	})
	e.subscribe(rc, `{"url":"`+rc.srv.URL+`/hook"}`)
	ids := []string{e.chat("sales", 4), e.chat("support", 3), e.chat("sales", 2)}
	last, err := e.feed.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 30*time.Second, "every record accepted", func() bool {
		got, _ := rc.snapshot()
		return len(got) >= int(last)
	})
	got, bad := rc.snapshot()
	if bad != 0 {
		t.Fatalf("%d deliveries with a bad signature", bad)
	}
	if len(got) != int(last) {
		t.Fatalf("accepted %d records, feed has %d", len(got), last)
	}
	perChat := map[string]int64{}
	for i, r := range got {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d: lost, repeated or reordered", i, r.Seq)
		}
		if r.Kind == KindEvent {
			if r.Event.Index != perChat[r.ChatID]+1 {
				t.Fatalf("chat %s: event %d after %d", r.ChatID, r.Event.Index, perChat[r.ChatID])
			}
			perChat[r.ChatID] = r.Event.Index
		}
	}
	for _, id := range ids {
		v, _ := e.core.Chat(id)
		if perChat[id] != v.LastIndex {
			t.Fatalf("chat %s: %d events delivered, %d committed", id, perChat[id], v.LastIndex)
		}
	}
	rc.mu.Lock()
	if rc.attempts[3] != 4 {
		t.Errorf("seq 3 took %d attempts, want 4 (drop, hang, 500, ok)", rc.attempts[3])
	}
	rc.mu.Unlock()
}

// TestWebhookFilterAndDeadLetters: a subscription gets only its types and services; a
// record refused MaxAttempts times becomes a dead letter, later records still flow, and a
// replay through the API delivers it and empties the list.
func TestWebhookFilterAndDeadLetters(t *testing.T) {
	e := newEnv(t, WebhookConfig{MaxAttempts: 2, BackoffBase: 5 * time.Millisecond, BackoffMax: 10 * time.Millisecond, Timeout: time.Second})
	// The first record that passes the filter (the sales chat's first Message, m0) is
	// refused until refusing is turned off. Deliveries to one endpoint are sequential.
	var firstSeq atomic.Uint64
	var refusing atomic.Bool
	refusing.Store(true)
	rc := newReceiver(t, func(seq uint64, _ int) string {
		firstSeq.CompareAndSwap(0, seq)
		if seq == firstSeq.Load() && refusing.Load() {
			return "500"
		}
		return ""
	})
	ep := e.subscribe(rc, `{"url":"`+rc.srv.URL+`","types":["Message"],"services":["sales"]}`)
	e.chat("support", 2) // filtered out by service
	e.chat("sales", 3)   // three Messages: the first is dead-lettered
	testwait.Until(t, 20*time.Second, "two messages accepted", func() bool {
		got, _ := rc.snapshot()
		return len(got) >= 2
	})
	var dl struct{ DeadLetters []DeadLetter }
	testwait.Until(t, 10*time.Second, "a dead letter", func() bool {
		return e.do("GET", "/feed/webhooks/"+ep.ID+"/dead-letters", "", &dl) == 200 && len(dl.DeadLetters) == 1
	})
	d := dl.DeadLetters[0]
	if d.Attempts != 2 || d.Record.Seq != firstSeq.Load() || d.Record.Event == nil || d.Record.Event.Text != "m0" || d.Error == "" {
		t.Fatalf("dead letter %+v", d)
	}
	got, _ := rc.snapshot()
	for _, r := range got {
		if r.Type() != "Message" || r.Service != "sales" {
			t.Fatalf("filter let through %s of %s", r.Type(), r.Service)
		}
	}
	if got[0].Event.Text != "m1" || got[1].Event.Text != "m2" {
		t.Fatalf("accepted %q, %q", got[0].Event.Text, got[1].Event.Text)
	}
	// Replay while the endpoint still refuses: stays listed.
	var res ReplayResult
	if code := e.do("POST", "/feed/webhooks/"+ep.ID+"/dead-letters/replay", "", &res); code != 200 || res.Failed != 1 || res.Replayed != 0 {
		t.Fatalf("replay: %d %+v", code, res)
	}
	refusing.Store(false)
	if code := e.do("POST", "/feed/webhooks/"+ep.ID+"/dead-letters/replay", "", &res); code != 200 || res.Replayed != 1 || res.Failed != 0 {
		t.Fatalf("replay: %d %+v", code, res)
	}
	got, _ = rc.snapshot()
	if len(got) != 3 || got[2].Event.Text != "m0" {
		t.Fatalf("after replay: %d accepted", len(got))
	}
	if e.do("GET", "/feed/webhooks/"+ep.ID+"/dead-letters", "", &dl); len(dl.DeadLetters) != 0 {
		t.Fatalf("dead letters after replay: %+v", dl.DeadLetters)
	}
	var st struct{ Status Status }
	if code := e.do("GET", "/feed/webhooks/"+ep.ID, "", &st); code != 200 || st.Status.DeadLetters != 0 {
		t.Fatalf("status %d %+v", code, st)
	}
	// The list hides secrets; delete removes the endpoint.
	var list struct{ Webhooks []Endpoint }
	if e.do("GET", "/feed/webhooks", "", &list); len(list.Webhooks) != 1 || list.Webhooks[0].Secret != "" {
		t.Fatalf("list %+v", list)
	}
	if code := e.do("DELETE", "/feed/webhooks/"+ep.ID, "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := e.do("GET", "/feed/webhooks/"+ep.ID, "", nil); code != 404 {
		t.Fatalf("get deleted: %d", code)
	}
	// Bad subscriptions are refused.
	for _, b := range []string{`{"url":"ftp://x"}`, `{"url":"http://127.0.0.1/","secret":"short"}`, `{"bogus":1}`, `not json`} {
		if code := e.do("POST", "/feed/webhooks", b, nil); code != 400 {
			t.Errorf("create %s: %d, want 400", b, code)
		}
	}
}
