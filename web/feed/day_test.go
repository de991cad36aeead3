package feed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/chatgate/chatgate/chatcore"
)

// dayChats is how many chats the exported day has: 10,000, or 1,000 under the race
// detector, where the core runs about ten times slower (10,000 chats would take minutes
// there; docs/workflow.md "Tests" gives the figures).
func dayChats() int {
	if raceEnabled {
		return 1_000
	}
	return 10_000
}

// Steps of a day chat; each batch of chats runs one step, then the manual clock moves on.
const (
	dayBatch = 100
	daySteps = 8
)

// dayScript runs step s of day chat i (variant i%4: 0 held and picked up by a second agent,
// 1 transferred directly, 2 answered and kept, 3 placed into a queue and picked up).
func dayScript(ctx context.Context, co *chatcore.Core, i, s int, c *chatcore.Created) error {
	agent, agent2 := fmt.Sprint("agent-", i%25), fmt.Sprint("agent-", 25+i%25)
	join := func(id string) error {
		_, _, err := co.Join(ctx, c.ChatID, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: id, UserID: id})
		return err
	}
	var err error
	switch v := i % 4; {
	case s == 0:
		*c, err = co.CreateChat(ctx, chatcore.CreateRequest{Service: fmt.Sprint("svc-", i%3), Nickname: fmt.Sprint("Customer ", i),
			UserData: map[string]string{chatcore.PropAsyncMode: "true", "order": strconv.Itoa(i)}})
	case s == 1:
		_, err = co.SendMessage(ctx, c.ChatID, c.UserID, "hello", "")
	case s == 2:
		err = join(agent)
	case s == 3:
		_, err = co.SendMessage(ctx, c.ChatID, agent, "how can I help?", "")
	case s == 4 && v == 0:
		_, err = co.Hold(ctx, c.ChatID, agent)
	case s == 4 && v == 1:
		_, _, err = co.Transfer(ctx, c.ChatID, agent, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: agent2, UserID: agent2})
	case s == 4 && v == 2:
		_, err = co.SendMessage(ctx, c.ChatID, agent, "one moment", "")
	case s == 4 && v == 3:
		_, err = co.ReleaseToQueue(ctx, c.ChatID, agent)
	case s == 5 && v == 0:
		_, err = co.SendMessage(ctx, c.ChatID, c.UserID, "back again", "")
	case s == 5 && v == 3:
		err = join(agent2)
	case s == 6 && (v == 0):
		err = join(agent2)
	case s == 6 && (v == 1 || v == 3):
		_, err = co.SendMessage(ctx, c.ChatID, agent2, "taking over", "")
	case s == 7 && v%2 == 0:
		_, err = co.EndChat(ctx, c.ChatID, "")
	case s == 7:
		_, err = co.Disconnect(ctx, c.ChatID, c.UserID)
	}
	return err
}

// daySummary is what the script makes of chat i, steps delta apart.
func daySummary(i int, delta time.Duration) (handle, hold time.Duration, holds, transfers int, reason string) {
	reason = "ended_by_server"
	if i%2 == 1 {
		reason = "customer_left"
	}
	switch i % 4 {
	case 0: // agent steps 2–4, on hold 4–5, second agent 6–7
		return 3 * delta, delta, 1, 0, reason
	case 1: // agents 2–7 (the transfer hands over at 4)
		return 5 * delta, 0, 0, 1, reason
	case 2:
		return 5 * delta, 0, 0, 0, reason
	}
	return 4 * delta, 0, 0, 1, reason // agent 2–4, into the queue at 4, second agent 5–7
}

// buildDay runs n chats through the core in batches, spread over one day of the manual
// clock, and returns their ids in order.
func buildDay(tb testing.TB, e *env, clock *chatcore.ManualClock, n int, delta time.Duration) []string {
	tb.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	chats := make([]chatcore.Created, n)
	for b := 0; b < n; b += dayBatch {
		end := min(b+dayBatch, n)
		for s := range daySteps {
			var wg sync.WaitGroup
			errs := make(chan error, end-b)
			for i := b; i < end; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := dayScript(ctx, e.core, i, s, &chats[i]); err != nil {
						errs <- fmt.Errorf("chat %d step %d: %w", i, s, err)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				tb.Fatal(err)
			}
			clock.Advance(delta)
		}
	}
	for i := range chats {
		ids[i] = chats[i].ChatID
	}
	return ids
}

// schemaSet is the served JSON Schemas compiled with a real validator (formats asserted).
type schemaSet struct {
	record, summary, answer *jsonschema.Schema
}

func (e *env) schemas() schemaSet {
	e.t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, name := range []string{RecordSchema, SummarySchema} {
		resp, err := http.DefaultClient.Do(e.req("GET", "/feed/schemas/"+name, ""))
		if err != nil {
			e.t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/schema+json" {
			e.t.Fatalf("GET schema %s: %d %s", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			e.t.Fatalf("%s: %v", name, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if err := c.AddResource(id, doc); err != nil {
			e.t.Fatal(err)
		}
	}
	var s schemaSet
	var err error
	if s.record, err = c.Compile("urn:chatgate:feed:record:v1"); err != nil {
		e.t.Fatal(err)
	}
	if s.summary, err = c.Compile("urn:chatgate:feed:summary:v1"); err != nil {
		e.t.Fatal(err)
	}
	if s.answer, err = c.Compile("urn:chatgate:feed:summary:v1#/$defs/answer"); err != nil {
		e.t.Fatal(err)
	}
	return s
}

func validate(tb testing.TB, sch *jsonschema.Schema, what string, b []byte) {
	tb.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("%s: %v: %.300s", what, err, b)
	}
	if err := sch.Validate(v); err != nil {
		tb.Fatalf("%s does not match the schema: %v\n%.600s", what, err, b)
	}
}

// exportAll reads [from, to) through the export, continuing after truncated answers, and
// returns every line as read (trailers included) and the records without repeats.
func (e *env) exportAll(from, to time.Time) (lines [][]byte, recs []Record, answers int) {
	e.t.Helper()
	seen := map[uint64]bool{}
	for start := from; ; answers++ {
		resp, err := http.DefaultClient.Do(e.req("GET", "/feed/export?"+rangeQuery(start, to).Encode(), ""))
		if err != nil {
			e.t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			e.t.Fatalf("export: %d", resp.StatusCode)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var end exportEnd
		var last Record
		for sc.Scan() {
			line := bytes.Clone(sc.Bytes())
			lines = append(lines, line)
			var r Record
			if err := json.Unmarshal(line, &r); err != nil {
				e.t.Fatalf("line %q: %v", line, err)
			}
			if r.Kind == KindEnd {
				if err := json.Unmarshal(line, &end); err != nil {
					e.t.Fatal(err)
				}
				continue
			}
			last = r
			if !seen[r.Seq] {
				seen[r.Seq] = true
				recs = append(recs, r)
			}
		}
		resp.Body.Close()
		if err := sc.Err(); err != nil || end.Kind != KindEnd {
			e.t.Fatalf("export cut short: %v %+v", err, end)
		}
		if !end.Truncated {
			return lines, recs, answers + 1
		}
		start = last.Stored
	}
}

// TestExportDay: a day of chats made through the real core on embedded JetStream (file
// storage, background sync), spread over 24 hours of the manual clock — created, customer
// message, agent join and answer, hold, transfers, end — between chats before and after the
// range. Every exported NDJSON line (trailers included) and every summary, JSON and CSV
// rows alike, is validated against the served JSON Schemas with a real validator; every
// chat of the range is there once with every event once, nothing outside the range, and
// each summary says what the script did.
func TestExportDay(t *testing.T) {
	n := dayChats()
	clock := chatcore.NewManualClock(day0)
	e := newEnvClock(t, WebhookConfig{}, clock)
	ctx := context.Background()
	sch := e.schemas()
	outside := func(k int) map[string]bool {
		ids := map[string]bool{}
		for range k {
			c, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "outside", Nickname: "Out"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.core.Disconnect(ctx, c.ChatID, c.UserID); err != nil {
				t.Fatal(err)
			}
			ids[c.ChatID] = true
		}
		return ids
	}
	before := outside(20)
	from := e.storedNow()
	delta := 24 * time.Hour / time.Duration((n+dayBatch-1)/dayBatch*daySteps)
	start := time.Now()
	ids := buildDay(t, e, clock, n, delta)
	to := e.storedNow()
	t.Logf("%d chats, %d feed records made in %v (steps %v apart on the chat clock)", n, e.feed.Stats().Recorded, time.Since(start).Round(time.Millisecond), delta)
	after := outside(20)
	e.storedNow()

	// The export: every line valid, every chat of the range once with every event once.
	t0 := time.Now()
	lines, recs, answers := e.exportAll(from, to)
	t.Logf("exported %d records in %d answers (%d lines) in %v", len(recs), answers, len(lines), time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	for i, l := range lines {
		validate(t, sch.record, fmt.Sprintf("export line %d", i), l)
	}
	t.Logf("%d lines validated in %v", len(lines), time.Since(t0).Round(time.Millisecond))
	if n*13 > MaxExportRecords && answers < 2 {
		t.Errorf("%d records in one answer: the export's cap was not exercised", len(recs))
	}
	inRange := map[string]bool{}
	for _, id := range ids {
		inRange[id] = true
	}
	events := map[string][]int64{}
	var first, last time.Time
	for _, r := range recs {
		if !inRange[r.ChatID] {
			t.Fatalf("record of a chat outside the range (before %v, after %v): %+v", before[r.ChatID], after[r.ChatID], r)
		}
		if r.Stored.Before(from) || !r.Stored.Before(to) {
			t.Fatalf("record stored at %v, outside [%v, %v)", r.Stored, from, to)
		}
		if r.Kind == KindEvent {
			events[r.ChatID] = append(events[r.ChatID], r.Event.Index)
		}
		if first.IsZero() || r.Time.Before(first) {
			first = r.Time
		}
		if r.Time.After(last) {
			last = r.Time
		}
	}
	if len(events) != n {
		t.Fatalf("events of %d chats, want %d", len(events), n)
	}
	for _, id := range ids {
		v, err := e.core.Chat(id)
		if err != nil {
			t.Fatal(err)
		}
		idx := events[id]
		if int64(len(idx)) != v.LastIndex {
			t.Fatalf("chat %s: %d events exported, transcript has %d", id, len(idx), v.LastIndex)
		}
		for k, x := range idx {
			if x != int64(k+1) {
				t.Fatalf("chat %s: events %v", id, idx)
			}
		}
	}
	if span := last.Sub(first); span < 23*time.Hour || span > 24*time.Hour {
		t.Errorf("the records' times span %v, want a day", span)
	}

	// The summaries, JSON: the answer and each summary valid, each as the script made it.
	t0 = time.Now()
	resp, body := e.summaries(rangeQuery(from, to))
	if resp.StatusCode != 200 {
		t.Fatalf("summaries: %d %.300s", resp.StatusCode, body)
	}
	t.Logf("summaries: %d bytes in %v", len(body), time.Since(t0).Round(time.Millisecond))
	validate(t, sch.answer, "summaries answer", body)
	var ans struct {
		Summaries []json.RawMessage `json:"summaries"`
		Chats     int               `json:"chats"`
		Truncated bool              `json:"truncated"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatal(err)
	}
	if ans.Chats != n || len(ans.Summaries) != n || ans.Truncated {
		t.Fatalf("%d summaries (chats %d, truncated %v), want %d", len(ans.Summaries), ans.Chats, ans.Truncated, n)
	}
	pos := map[string]int{}
	for i, id := range ids {
		pos[id] = i
	}
	byID := map[string]Summary{}
	for k, raw := range ans.Summaries {
		validate(t, sch.summary, fmt.Sprintf("summary %d", k), raw)
		var s Summary
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		i, ok := pos[s.ChatID]
		if !ok || byID[s.ChatID].ChatID != "" {
			t.Fatalf("summary %d: chat %s outside the range or repeated", k, s.ChatID)
		}
		byID[s.ChatID] = s
		handle, hold, holds, transfers, reason := daySummary(i, delta)
		got := fmt.Sprint(s.Ended, *s.EndReason, *s.FirstResponseMs, s.HandleMs, s.HoldMs, s.Holds, s.Transfers, s.Async, len(s.Parties))
		want := fmt.Sprint(true, reason, (2 * delta).Milliseconds(), handle.Milliseconds(), hold.Milliseconds(), holds, transfers, true, 3)
		if i%4 == 2 {
			want = fmt.Sprint(true, reason, (2 * delta).Milliseconds(), handle.Milliseconds(), hold.Milliseconds(), holds, transfers, true, 2)
		}
		if got != want {
			t.Fatalf("chat %d (variant %d) summary: %s, want %s\n%s", i, i%4, got, want, raw)
		}
	}

	// CSV: every row, turned back into the JSON types, valid and equal to its JSON summary.
	resp, body = e.summaries(rangeQuery(from, to, "format", "csv"))
	if resp.StatusCode != 200 || resp.Trailer.Get(TrailerChats) != strconv.Itoa(n) {
		t.Fatalf("csv summaries: %d, trailers %v", resp.StatusCode, resp.Trailer)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(rows) != n+1 || !reflect.DeepEqual(rows[0], SummaryCSVHeader) {
		t.Fatalf("csv: %v, %d rows, header %v", err, len(rows), rows[0])
	}
	for k, row := range rows[1:] {
		obj := csvRowJSON(t, rows[0], row)
		validate(t, sch.summary, fmt.Sprintf("csv row %d", k+1), obj)
		var s Summary
		if err := json.Unmarshal(obj, &s); err != nil {
			t.Fatal(err)
		}
		if want := byID[s.ChatID]; !reflect.DeepEqual(s, want) {
			t.Fatalf("csv row %d differs from the JSON summary:\n%+v\n%+v", k+1, s, want)
		}
	}

	// The validator is no pushover: a record and a summary that break the schema fail.
	for _, bad := range []struct {
		sch *jsonschema.Schema
		doc string
	}{
		{sch.record, `{"v":1,"seq":1,"kind":"deleted","chatId":"x","service":"s","time":"2026-11-25T00:00:00Z","lastIndex":0}`},
		{sch.record, `{"v":1,"seq":1,"kind":"purged","chatId":"x","service":"s","time":"2026-11-25T00:00:00Z","lastIndex":0}`},
		{sch.record, strings.Replace(string(lines[0]), `"v":1`, `"v":2`, 1)},
		{sch.summary, strings.Replace(string(ans.Summaries[0]), `"handleMs":`, `"handleMs":-`, 1)},
		{sch.summary, strings.Replace(string(ans.Summaries[0]), `"created":"2026`, `"created":"yesterday`, 1)},
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(bad.doc))
		if err != nil {
			t.Fatal(err)
		}
		if bad.sch.Validate(v) == nil {
			t.Errorf("schema accepts %.200s", bad.doc)
		}
	}
}

// csvRowJSON turns a CSV row back into the JSON object of its summary: empty cells are
// null, booleans and numbers are typed, statusHistory and parties are JSON, a leading
// apostrophe added against CSV injection is dropped (no value the day makes starts with
// one), times are re-read.
func csvRowJSON(t *testing.T, header, row []string) []byte {
	t.Helper()
	obj := map[string]any{}
	for i, name := range header {
		cell := strings.TrimPrefix(row[i], "'")
		var v any
		switch {
		case cell == "":
			v = nil
		case cell == "true" || cell == "false":
			v = cell == "true"
		case name == "statusHistory" || name == "parties":
			v = json.RawMessage(cell)
		case name == "chatId" || name == "service" || name == "endReason":
			v = cell
		default:
			if n, err := strconv.ParseInt(cell, 10, 64); err == nil {
				v = n
			} else if tm, err := time.Parse(time.RFC3339Nano, cell); err == nil {
				v = tm
			} else {
				t.Fatalf("column %s: cell %q", name, cell)
			}
		}
		obj[name] = v
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
