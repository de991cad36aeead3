package feed

import (
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzSubjectToken: whatever a chat id holds, it becomes exactly one NATS subject token, and
// different ids never share a token.
func FuzzSubjectToken(f *testing.F) {
	for _, s := range []string{"L5OJrlK9B3gcDv7B", "", "a.b", "*", ">", "x_", "a b", "\x00"} {
		f.Add(s, "other")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ta := subjectToken(a)
		if ta == "" || strings.ContainsAny(ta, ".*> \t\r\n\x00") {
			t.Fatalf("%q → %q is not one subject token", a, ta)
		}
		if a != b && ta == subjectToken(b) {
			t.Fatalf("%q and %q share token %q", a, b, ta)
		}
	})
}

// FuzzParseFilter: query values become filters without empty or padded entries.
func FuzzParseFilter(f *testing.F) {
	f.Add("Message,properties", "sales, support")
	f.Add(",,", " ")
	f.Fuzz(func(t *testing.T, types, services string) {
		flt := ParseFilter(types, services)
		for _, v := range append(flt.Types, flt.Services...) {
			if v == "" || strings.TrimSpace(v) != v {
				t.Fatalf("entry %q", v)
			}
		}
	})
}

// FuzzSummaryCSV: whatever a client put into a nickname, a service name or a chat id, the
// CSV row parses back (RFC 4180) into exactly the header's columns with each value intact
// behind the formula guard, and no cell starts a spreadsheet formula.
func FuzzSummaryCSV(f *testing.F) {
	for _, s := range []string{"Ann", `=HYPERLINK("http://x","y")`, "+1", "-2", "@SUM(A1)", "\tx", "\rx", "a,b", `"q"`, "line\nbreak", "", "é\x00"} {
		f.Add(s, "sales", "L5OJrlK9B3gcDv7B")
	}
	f.Fuzz(func(t *testing.T, nick, service, chatID string) {
		at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		s := &Summary{V: SummaryVersion, ChatID: chatID, Service: service, Created: at, AsOf: at,
			StatusHistory: []StatusChange{{Status: -2, At: at}},
			Parties:       []Party{{ParticipantID: 1, Type: "Client", Nickname: nick, UserID: nick, Joined: at}}}
		rec := httptest.NewRecorder()
		w := newCSVSummaries(rec)
		if err := w.begin(); err != nil {
			t.Fatal(err)
		}
		if err := w.write(s); err != nil {
			t.Fatal(err)
		}
		if err := w.end(summaryEnd{Chats: 1}); err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(strings.NewReader(rec.Body.String()))
		rows, err := r.ReadAll()
		if err != nil || len(rows) != 2 || len(rows[1]) != len(SummaryCSVHeader) {
			t.Fatalf("%v, %d rows: %q", err, len(rows), rec.Body.String())
		}
		for i, cell := range rows[1] {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Fatalf("column %s starts a formula: %q", SummaryCSVHeader[i], cell)
			}
		}
		col := func(name string) int { return slices.Index(SummaryCSVHeader, name) }
		// With CRLF line ends encoding/csv writes a line break in a value as \r\n and drops a
		// lone \r (documented); read back, \r\n is \n: a value comes back without its \r.
		norm := func(v string) string { return strings.ReplaceAll(CSVSafe(v), "\r", "") }
		if got := rows[1][col("chatId")]; got != norm(chatID) {
			t.Fatalf("chatId %q read back as %q", chatID, got)
		}
		if got := rows[1][col("service")]; got != norm(service) {
			t.Fatalf("service %q read back as %q", service, got)
		}
		// The nickname as JSON carries it (invalid UTF-8 becomes U+FFFD).
		var want string
		b, _ := json.Marshal(nick)
		_ = json.Unmarshal(b, &want)
		var parties []Party
		if err := json.Unmarshal([]byte(rows[1][col("parties")]), &parties); err != nil || len(parties) != 1 || parties[0].Nickname != want {
			t.Fatalf("parties cell %q: %v", rows[1][col("parties")], err)
		}
	})
}
