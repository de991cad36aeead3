package feed

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/testwait"
	"github.com/chatgate/chatgate/web"
)

// scrapeMetrics serves m on a real web.Server's /metrics and reads it over loopback HTTP:
// "name{labels}" → value.
func scrapeMetrics(t *testing.T, srv *httptest.Server) map[string]string {
	t.Helper()
	resp, err := http.Get(srv.URL + web.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
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

// TestFeedMetrics: records, webhook attempts by outcome, retries, dead letters (counted and
// waiting), replays, the delivery lag histogram and the open streams, as /metrics shows
// them, against what the receiver saw.
func TestFeedMetrics(t *testing.T) {
	e := newEnv(t, WebhookConfig{MaxAttempts: 2, BackoffBase: 5 * time.Millisecond, BackoffMax: 10 * time.Millisecond, Timeout: 2 * time.Second})
	api, err := Handler(APIConfig{Feed: e.feed, Webhooks: e.hooks, Auth: nopAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	surface := web.NewServer(web.ServerOptions{})
	surface.Registry().MustRegister(NewMetrics(e.feed, e.hooks, api))
	msrv := httptest.NewServer(surface)
	defer msrv.Close()

	var accept atomic.Bool
	rc := newReceiver(t, func(seq uint64, attempt int) string {
		switch {
		case accept.Load():
			return ""
		case seq%4 == 0:
			return "500" // both attempts: dead-lettered
		case seq%4 == 1 && attempt == 1:
			return "drop" // no answer, then accepted
		}
		return ""
	})
	ep := e.subscribe(rc, `{"url":"`+rc.srv.URL+`/hook"}`)
	e.chat("sales", 3)
	last, err := e.feed.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	testwait.Until(t, 20*time.Second, "every record passed", func() bool {
		if code := e.do("GET", "/feed/webhooks/"+ep.ID, "", &struct{ Status *Status }{&st}); code != 200 {
			t.Fatalf("status %d", code)
		}
		return st.Delivered == last && st.Pending == 0
	})
	rc.mu.Lock()
	attempts, distinct, accepted := 0, len(rc.attempts), len(rc.accepted)
	for _, n := range rc.attempts {
		attempts += n
	}
	rc.mu.Unlock()
	dead := int(last / 4)
	drops := int((last + 3) / 4)
	m := scrapeMetrics(t, msrv)
	stats := e.feed.Stats()
	id := ep.ID
	want := map[string]string{
		`chatgate_feed_records_total{kind="event"}`:                                          fmt.Sprint(stats.ByKind[KindEvent]),
		`chatgate_feed_records_total{kind="properties"}`:                                     fmt.Sprint(stats.ByKind[KindProperties]),
		`chatgate_feed_record_failures_total`:                                                "0",
		`chatgate_feed_webhook_attempts_total{endpoint="` + id + `",outcome="delivered"}`:    fmt.Sprint(accepted),
		`chatgate_feed_webhook_attempts_total{endpoint="` + id + `",outcome="rejected"}`:     fmt.Sprint(2 * dead),
		`chatgate_feed_webhook_attempts_total{endpoint="` + id + `",outcome="failed"}`:       fmt.Sprint(drops),
		`chatgate_feed_webhook_retries_total{endpoint="` + id + `"}`:                         fmt.Sprint(attempts - distinct),
		`chatgate_feed_webhook_dead_lettered_total{endpoint="` + id + `"}`:                   fmt.Sprint(dead),
		`chatgate_feed_webhook_dead_letters{endpoint="` + id + `"}`:                          fmt.Sprint(dead),
		`chatgate_feed_webhook_delivery_lag_seconds_count{endpoint="` + id + `"}`:            fmt.Sprint(accepted),
		`chatgate_feed_webhook_delivery_lag_seconds_bucket{endpoint="` + id + `",le="+Inf"}`: fmt.Sprint(accepted),
		`chatgate_feed_stream_clients`:                                                       "0",
	}
	if stats.ByKind[KindEvent] != 5 || accepted != int(last)-dead || dead == 0 || drops == 0 {
		t.Fatalf("setup: stats %+v, %d accepted of %d, %d dead, %d drops", stats, accepted, last, dead, drops)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %s", k, m[k], v)
		}
	}

	// A replay delivers the dead letters: counted, and none wait any more.
	accept.Store(true)
	var res ReplayResult
	if code := e.do("POST", "/feed/webhooks/"+id+"/dead-letters/replay", "", &res); code != 200 || res.Replayed != dead {
		t.Fatalf("replay: %d %+v", code, res)
	}
	m = scrapeMetrics(t, msrv)
	for k, v := range map[string]string{
		`chatgate_feed_webhook_replays_total{endpoint="` + id + `",outcome="delivered"}`: fmt.Sprint(dead),
		`chatgate_feed_webhook_replays_total{endpoint="` + id + `",outcome="failed"}`:    "0",
		`chatgate_feed_webhook_dead_letters{endpoint="` + id + `"}`:                      "0",
	} {
		if m[k] != v {
			t.Errorf("after replay: %s = %q, want %s", k, m[k], v)
		}
	}

	// An open event stream is counted while it is open.
	srv := httptest.NewServer(api)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/feed/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	testwait.Until(t, 5*time.Second, "the stream counted", func() bool { return scrapeMetrics(t, msrv)[`chatgate_feed_stream_clients`] == "1" })
	cancel()
	resp.Body.Close()
	testwait.Until(t, 5*time.Second, "the stream no longer counted", func() bool { return scrapeMetrics(t, msrv)[`chatgate_feed_stream_clients`] == "0" })

	// A deleted endpoint's series go with it.
	if code := e.do("DELETE", "/feed/webhooks/"+id, "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	for k := range scrapeMetrics(t, msrv) {
		if strings.Contains(k, id) {
			t.Errorf("series of a deleted endpoint: %s", k)
		}
	}
}

// nopAuth lets every request through (the metrics test's own API, not the one under auth).
type nopAuth struct{}

func (nopAuth) Require(next http.Handler) http.Handler { return next }
