package feed

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/internal/testwait"
)

var day0 = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// summaryAnswer is the JSON answer of /feed/summaries.
type summaryAnswer struct {
	V         int       `json:"v"`
	Summaries []Summary `json:"summaries"`
	Chats     int       `json:"chats"`
	Truncated bool      `json:"truncated"`
	NextFrom  *string   `json:"nextFrom"`
}

// storedNow waits until everything committed so far is in the feed and returns a time
// after the last record's stored time and before any later one.
func (e *env) storedNow() time.Time {
	e.t.Helper()
	ctx := context.Background()
	for _, id := range e.core.ChatIDs() {
		v, err := e.core.Chat(id)
		if err != nil {
			e.t.Fatal(err)
		}
		testwait.Until(e.t, 10*time.Second, "the chat's events in the feed", func() bool {
			have, _, err := e.feed.lastIndex(ctx, id)
			return err == nil && have == v.LastIndex
		})
	}
	last, err := e.feed.LastSeq(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if last == 0 {
		return time.Now()
	}
	m, err := e.feed.stream.GetMsg(ctx, last)
	if err != nil {
		e.t.Fatal(err)
	}
	// JetStream stamps with the same clock; wait until it has moved past the last stamp.
	testwait.Until(e.t, time.Second, "the clock past the last record", func() bool { return time.Now().After(m.Time) })
	return time.Now()
}

func (e *env) summaries(q url.Values) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(e.req("GET", "/feed/summaries?"+q.Encode(), ""))
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func rangeQuery(from, to time.Time, kv ...string) url.Values {
	q := url.Values{"from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

// TestSummaries scripts chats on the real core with the manual clock and checks every
// summary field against the script, in JSON and in CSV; chats before and after the range
// are left out; a chat open at the end of the range is summarised as of its last record,
// and completed by a later until.
func TestSummaries(t *testing.T) {
	clock := chatcore.NewManualClock(day0.Add(9 * time.Hour))
	e := newEnvClock(t, WebhookConfig{}, clock)
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	create := func(nick string, async bool) chatcore.Created {
		t.Helper()
		ud := map[string]string{}
		if async {
			ud[chatcore.PropAsyncMode] = "true"
		}
		c, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "sales", Nickname: nick, UserData: ud})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	join := func(chatID, agent string) {
		t.Helper()
		if _, _, err := e.core.Join(ctx, chatID, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: agent, UserID: agent}); err != nil {
			t.Fatal(err)
		}
	}
	at := func(d time.Duration) { t.Helper(); clock.Set(day0.Add(10*time.Hour + d)) }

	before := create("Early", false) // before the range: not summarised
	must(e.core.Disconnect(ctx, before.ChatID, before.UserID))
	from := e.storedNow()

	// A: async, answered, held, transferred twice (Transfer, then into a queue), ended by
	// the server.
	at(0)
	a := create("=HYPERLINK(\"http://x\")", true)
	at(10 * time.Second)
	must(e.core.SendMessage(ctx, a.ChatID, a.UserID, "hello", ""))
	at(30 * time.Second)
	join(a.ChatID, "bob")
	at(50 * time.Second)
	must(e.core.SendMessage(ctx, a.ChatID, "bob", "hi, Bob here", ""))
	at(60 * time.Second)
	must(e.core.Hold(ctx, a.ChatID, "bob"))
	at(120 * time.Second)
	must(e.core.SendMessage(ctx, a.ChatID, a.UserID, "still there?", ""))
	at(130 * time.Second)
	join(a.ChatID, "carl")
	at(140 * time.Second)
	_, _, err := e.core.Transfer(ctx, a.ChatID, "carl", chatcore.JoinRequest{Type: chatcore.Agent, Nickname: "Dave", UserID: "dave"})
	if err != nil {
		t.Fatal(err)
	}
	at(150 * time.Second)
	must(e.core.ReleaseToQueue(ctx, a.ChatID, "dave"))
	at(160 * time.Second)
	join(a.ChatID, "eve")
	at(200 * time.Second)
	must(e.core.EndChat(ctx, a.ChatID, ""))

	// B: regular chat, never answered, the customer leaves.
	at(300 * time.Second)
	b := create("+1 Bea", false)
	at(305 * time.Second)
	must(e.core.SendMessage(ctx, b.ChatID, b.UserID, "anyone?", ""))
	at(400 * time.Second)
	must(e.core.Disconnect(ctx, b.ChatID, b.UserID))

	// C: async, an agent answers, still open at the end of the range.
	at(500 * time.Second)
	c := create("Cy", true)
	at(510 * time.Second)
	must(e.core.SendMessage(ctx, c.ChatID, c.UserID, "help", ""))
	at(520 * time.Second)
	join(c.ChatID, "bob")
	at(530 * time.Second)
	must(e.core.SendMessage(ctx, c.ChatID, "bob", "sure", ""))
	to := e.storedNow()

	// After the range: C ends, and a new chat starts (never in this range's summaries).
	at(600 * time.Second)
	must(e.core.Disconnect(ctx, c.ChatID, c.UserID))
	after := create("Late", false)
	must(e.core.Disconnect(ctx, after.ChatID, after.UserID))
	later := e.storedNow()

	ts := func(d time.Duration) *time.Time { x := day0.Add(10*time.Hour + d); return &x }
	i64 := func(n int64) *int64 { return &n }
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	st := func(n int, d time.Duration) StatusChange { return StatusChange{Status: n, At: *ts(d)} }

	resp, body := e.summaries(rangeQuery(from, to))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("summaries: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var ans summaryAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if ans.V != SummaryVersion || ans.Chats != 3 || len(ans.Summaries) != 3 || ans.Truncated || ans.NextFrom != nil {
		t.Fatalf("answer %+v", ans)
	}
	// Ended chats come at their end, open ones after them.
	sa, sb, sc := ans.Summaries[0], ans.Summaries[1], ans.Summaries[2]
	if sa.ChatID != a.ChatID || sb.ChatID != b.ChatID || sc.ChatID != c.ChatID {
		t.Fatalf("order %s %s %s, want A B C", sa.ChatID, sb.ChatID, sc.ChatID)
	}
	check := func(name string, got, want any) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%s: %s, want %s", name, g, w)
		}
	}
	check("A created", sa.Created, *ts(0))
	check("A ended", []any{sa.Ended, sa.EndedAt, sa.EndReason, sa.EndReasonCode}, []any{true, ts(200 * time.Second), str("ended_by_server"), num(5)})
	check("A first response", []any{sa.FirstCustomerMessageAt, sa.FirstAgentResponseAt, sa.FirstResponseMs},
		[]any{ts(10 * time.Second), ts(50 * time.Second), i64(40_000)})
	// bob 30–60 s, carl and dave 130–150 s, eve 160–200 s.
	check("A handle", sa.HandleMs, int64(90_000))
	check("A hold", []any{sa.HoldMs, sa.Holds}, []any{int64(60_000), 1})
	check("A transfers", sa.Transfers, 2)
	check("A messages", []int{sa.CustomerMessages, sa.AgentMessages}, []int{2, 1})
	check("A status history", sa.StatusHistory, []StatusChange{
		st(1, 0), st(2, 10*time.Second), st(-1, 30*time.Second), st(-2, 60*time.Second), st(2, 120*time.Second),
		st(-1, 130*time.Second), st(5, 150*time.Second), st(-1, 160*time.Second),
	})
	var nicks []string
	for _, p := range sa.Parties {
		nicks = append(nicks, p.Type+":"+p.Nickname+":"+optInt(p.QuitReasonCode))
	}
	check("A parties", nicks, []string{`Client:=HYPERLINK("http://x"):5`, "Agent:bob:0", "Agent:carl:0", "Agent:Dave:0", "Agent:eve:5"})
	check("A as of", sa.AsOf, *ts(200 * time.Second))
	check("A async", sa.Async, true)

	check("B", []any{sb.Async, sb.Ended, sb.EndReason, sb.FirstCustomerMessageAt, sb.FirstAgentResponseAt, sb.FirstResponseMs, sb.HandleMs, sb.HoldMs, sb.Transfers, sb.StatusHistory},
		[]any{false, true, str("customer_left"), ts(305 * time.Second), nil, nil, 0, 0, 0, []StatusChange{}})

	check("C open", []any{sc.Ended, sc.EndedAt, sc.EndReason, sc.FirstResponseMs, sc.HandleMs, sc.AsOf},
		[]any{false, nil, nil, i64(20_000), int64(10_000), ts(530 * time.Second)})
	for _, s := range ans.Summaries {
		if s.Service != "sales" || s.V != SummaryVersion || s.FirstSeq == 0 || s.LastSeq < s.FirstSeq || s.Records < 3 {
			t.Errorf("summary %s: %+v", s.ChatID, s)
		}
	}

	// until after C's end completes it; chats created after to stay out.
	_, body = e.summaries(rangeQuery(from, to, "until", later.UTC().Format(time.RFC3339Nano)))
	var ans2 summaryAnswer
	if err := json.Unmarshal(body, &ans2); err != nil || ans2.Chats != 3 {
		t.Fatalf("with until: %v %s", err, body)
	}
	sc2 := ans2.Summaries[2]
	check("C with until", []any{sc2.ChatID, sc2.Ended, sc2.EndedAt, sc2.EndReason, sc2.HandleMs},
		[]any{c.ChatID, true, ts(600 * time.Second), str("customer_left"), int64(80_000)})

	// CSV: the same summaries, RFC 4180, formulas defused, totals in trailers.
	resp, body = e.summaries(rangeQuery(from, to, "format", "csv"))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8; header=present" {
		t.Fatalf("csv: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Trailer.Get(TrailerChats) != "3" || resp.Trailer.Get(TrailerTruncated) != "false" {
		t.Errorf("trailers %v", resp.Trailer)
	}
	if !strings.HasSuffix(string(body), "\r\n") || strings.Count(string(body), "\r\n") != 4 {
		t.Errorf("csv line ends: %q", body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("csv: %v %d rows\n%s", err, len(rows), body)
	}
	check("csv header", rows[0], SummaryCSVHeader)
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for i, s := range ans.Summaries {
		row := rows[i+1]
		check("csv "+s.ChatID, []string{row[col["chatId"]], row[col["handleMs"]], row[col["holdMs"]], row[col["transfers"]], row[col["ended"]], row[col["firstResponseMs"]]},
			[]string{s.ChatID, strconv.FormatInt(s.HandleMs, 10), strconv.FormatInt(s.HoldMs, 10), strconv.Itoa(s.Transfers), strconv.FormatBool(s.Ended), optInt(s.FirstResponseMs)})
		var hist []StatusChange
		if err := json.Unmarshal([]byte(row[col["statusHistory"]]), &hist); err != nil {
			t.Errorf("statusHistory cell %q: %v", row[col["statusHistory"]], err)
		}
		check("csv status history "+s.ChatID, hist, s.StatusHistory)
	}
	check("csv created A", rows[1][col["created"]], "2026-11-25T10:00:00.000Z")
	// The nicknames that would run as formulas sit inside the parties cell, which starts
	// with '[': nothing in a cell starts with = + - @.
	for _, row := range rows {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("cell %q starts a formula", cell)
			}
		}
	}

	// Only the service asked for; bad parameters.
	_, body = e.summaries(rangeQuery(from, to, "services", "support"))
	if err := json.Unmarshal(body, &ans); err != nil || ans.Chats != 0 || len(ans.Summaries) != 0 {
		t.Errorf("other service: %s", body)
	}
	for _, q := range []url.Values{
		rangeQuery(from, to, "format", "xml"),
		rangeQuery(from, to, "until", from.Format(time.RFC3339Nano)),
		rangeQuery(to, from),
		{},
	} {
		if resp, body := e.summaries(q); resp.StatusCode != 400 {
			t.Errorf("%v: %d %s", q, resp.StatusCode, body)
		}
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		"=1+2": "'=1+2", "+1": "'+1", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"": "", "Ann": "Ann", "1-2": "1-2", "'=x": "'=x",
	} {
		if got := CSVSafe(in); got != want {
			t.Errorf("CSVSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSummaryBounds: the chats followed at once, the parties and the status history of one
// summary are bounded; past the bound the answer says so and where to continue, and the
// counts still cover every record.
func TestSummaryBounds(t *testing.T) {
	clock := chatcore.NewManualClock(day0.Add(9 * time.Hour))
	e := newEnvClock(t, WebhookConfig{}, clock)
	ctx := context.Background()
	from := e.storedNow()
	// One chat with 35 hold-and-pick-up cycles, each by another agent: 36 parties and 71
	// status values.
	big, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "s", Nickname: "Ann", UserData: map[string]string{chatcore.PropAsyncMode: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 35 {
		agent := fmt.Sprint("agent-", i)
		clock.Advance(time.Second)
		if _, _, err := e.core.Join(ctx, big.ChatID, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: agent, UserID: agent}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
		if _, err := e.core.Hold(ctx, big.ChatID, agent); err != nil {
			t.Fatal(err)
		}
	}
	var open []string
	for i := range 3 {
		c, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "s", Nickname: fmt.Sprint("Open ", i)})
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c.ChatID)
	}
	to := e.storedNow()

	run := func(from time.Time, max int) (*summarizer, []*Summary) {
		t.Helper()
		var got []*Summary
		z := newSummarizer(func(r Record) bool { return r.Stored.Before(to) }, func(s *Summary) error {
			c := *s
			got = append(got, &c)
			return nil
		})
		z.max = max
		if err := e.feed.Scan(ctx, from, to, z.Add); err != nil {
			t.Fatal(err)
		}
		if err := z.Flush(); err != nil {
			t.Fatal(err)
		}
		return z, got
	}
	z, got := run(from, 2)
	if len(got) != 2 || got[0].ChatID != big.ChatID || got[1].ChatID != open[0] || !z.refused {
		t.Fatalf("with 2 followed at once: %d summaries, refused %v", len(got), z.refused)
	}
	s := got[0]
	if len(s.Parties) != MaxSummaryParties || !s.PartiesTruncated || len(s.StatusHistory) != MaxSummaryStatuses || !s.StatusHistoryTruncated {
		t.Errorf("bounds: %d parties (truncated %v), %d statuses (truncated %v)", len(s.Parties), s.PartiesTruncated, len(s.StatusHistory), s.StatusHistoryTruncated)
	}
	// Every hold counted, each 1 s (from the hold to the next agent's join), the last one
	// running to asOf; handle: 35 agents, 1 s each.
	if s.Holds != 35 || s.HoldMs != 34_000 || s.HandleMs != 35_000 {
		t.Errorf("holds %d, holdMs %d, handleMs %d", s.Holds, s.HoldMs, s.HandleMs)
	}
	// Continuing from the first chat left out gives the rest.
	_, rest := run(z.refusedAt, 2)
	if len(rest) != 2 || rest[0].ChatID != open[1] || rest[1].ChatID != open[2] {
		t.Fatalf("continuation: %d summaries", len(rest))
	}
	// Over HTTP the cap is MaxSummaryOpen: nothing truncated here.
	_, body := e.summaries(rangeQuery(from, to))
	var ans summaryAnswer
	if err := json.Unmarshal(body, &ans); err != nil || ans.Chats != 4 || ans.Truncated {
		t.Fatalf("answer: %v %.300s", err, body)
	}
}
