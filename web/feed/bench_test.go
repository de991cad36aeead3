package feed

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// BenchmarkWebhookDelivery: messages committed by 4 senders into 16 chats, recorded by the
// feed and delivered to one webhook endpoint on loopback (signature checked). events/s is
// feed records accepted by the receiver per second of wall time; lag is from the start of
// the SendMessage call (the commit included) to the receiver's handler, per message.
func BenchmarkWebhookDelivery(b *testing.B) {
	e := newEnv(b, WebhookConfig{Timeout: 5 * time.Second})
	rc := newReceiver(b, nil)
	e.subscribe(rc, `{"url":"`+rc.srv.URL+`","types":["Message"]}`)
	ctx := context.Background()
	type chat struct{ id, user string }
	var chats []chat
	for range 16 {
		cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "bench", Nickname: "Ann"})
		if err != nil {
			b.Fatal(err)
		}
		chats = append(chats, chat{cr.ChatID, cr.UserID})
	}
	var mu sync.Mutex
	sent := map[string]time.Time{} // text -> call start
	var lags []time.Duration
	done := make(chan struct{})
	want := b.N
	rc.mu.Lock()
	rc.onAccept = func(r Record) {
		mu.Lock()
		defer mu.Unlock()
		if t0, ok := sent[r.Event.Text]; ok {
			lags = append(lags, time.Since(t0))
			delete(sent, r.Event.Text)
		} else {
			sent[r.Event.Text] = time.Time{} // delivered before the sender stored its start
		}
		if len(lags) == want {
			close(done)
		}
	}
	rc.mu.Unlock()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += 4 {
				c := chats[i%len(chats)]
				text := fmt.Sprint("m", i)
				t0 := time.Now()
				mu.Lock()
				if _, early := sent[text]; !early {
					sent[text] = t0
				}
				mu.Unlock()
				if _, err := e.core.SendMessage(ctx, c.id, c.user, text, ""); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("delivered %d of %d", len(lags), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lags)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-lag-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-lag-ms")
}

// BenchmarkWebhookLagIdle: one message at a time, the next sent once the previous was
// delivered: the commit→delivery lag of an idle feed (no queueing behind other records).
func BenchmarkWebhookLagIdle(b *testing.B) {
	e := newEnv(b, WebhookConfig{Timeout: 5 * time.Second})
	rc := newReceiver(b, nil)
	e.subscribe(rc, `{"url":"`+rc.srv.URL+`","types":["Message"]}`)
	ctx := context.Background()
	cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "bench", Nickname: "Ann"})
	if err != nil {
		b.Fatal(err)
	}
	got := make(chan time.Time, 1)
	rc.mu.Lock()
	rc.onAccept = func(Record) { got <- time.Now() }
	rc.mu.Unlock()
	lags := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if _, err := e.core.SendMessage(ctx, cr.ChatID, cr.UserID, fmt.Sprint("m", i), ""); err != nil {
			b.Fatal(err)
		}
		select {
		case t1 := <-got:
			lags = append(lags, t1.Sub(t0))
		case <-time.After(30 * time.Second):
			b.Fatalf("message %d not delivered", i)
		}
	}
	b.StopTimer()
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-lag-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-lag-ms")
}

// BenchmarkExportDay: the export of the day of TestExportDay (10,000 chats over 24 hours of
// the manual clock, about 137,500 records) over loopback HTTP, every answer read to its
// trailer line (two answers: the per-answer cap is 100,000 records), and then the day's
// summaries as CSV. The client only splits lines and reads each answer's last one, so the
// figures are the server's. Building the day is not timed; run it once (-benchtime=1x):
// the build takes about half a minute.
func BenchmarkExportDay(b *testing.B) {
	clock := chatcore.NewManualClock(day0)
	e := newEnvClock(b, WebhookConfig{}, clock)
	from := e.storedNow()
	n := 10_000
	buildDay(b, e, clock, n, 24*time.Hour/time.Duration(n/dayBatch*daySteps))
	to := e.storedNow()
	b.ResetTimer()
	var records, size, sumBytes int64
	var exportTime, sumTime time.Duration
	for range b.N {
		t0 := time.Now()
		r, sz := e.exportRaw(from, to)
		exportTime += time.Since(t0)
		records, size = records+r, size+sz
		t0 = time.Now()
		resp, body := e.summaries(rangeQuery(from, to, "format", "csv"))
		sumTime += time.Since(t0)
		if resp.StatusCode != 200 || resp.Trailer.Get(TrailerChats) != "10000" {
			b.Fatalf("summaries: %d %v", resp.StatusCode, resp.Trailer)
		}
		sumBytes += int64(len(body))
	}
	b.StopTimer()
	b.ReportMetric(float64(records)/exportTime.Seconds(), "records/s")
	b.ReportMetric(float64(size)/exportTime.Seconds()/1e6, "export-MB/s")
	b.ReportMetric(float64(b.N*n)/sumTime.Seconds(), "summaries/s")
	b.ReportMetric(float64(sumBytes)/sumTime.Seconds()/1e6, "csv-MB/s")
}

// exportRaw reads [from, to) through the export like exportAll, decoding only each answer's
// trailer and the line before it (where a truncated answer continues); it returns the
// records and bytes read (repeats at a continuation included, at most one per answer).
func (e *env) exportRaw(from, to time.Time) (records, size int64) {
	e.t.Helper()
	for start := from; ; {
		resp, err := http.DefaultClient.Do(e.req("GET", "/feed/export?"+rangeQuery(start, to).Encode(), ""))
		if err != nil || resp.StatusCode != 200 {
			e.t.Fatalf("export: %v %v", resp, err)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var prev, line []byte
		for sc.Scan() {
			prev, line = line, append(line[:0:0], sc.Bytes()...)
			size += int64(len(line)) + 1
			records++
		}
		resp.Body.Close()
		records-- // the trailer
		var end exportEnd
		if err := json.Unmarshal(line, &end); err != nil || end.Kind != KindEnd {
			e.t.Fatalf("export cut short: %v %s", err, line)
		}
		if !end.Truncated {
			return records, size
		}
		var last Record
		if err := json.Unmarshal(prev, &last); err != nil {
			e.t.Fatal(err)
		}
		start = last.Stored
	}
}
