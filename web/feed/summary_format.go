package feed

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Summary answer formats.
const (
	FormatJSON = "json"
	FormatCSV  = "csv"
)

// summaryEnd is what a summaries answer says once every summary is written.
type summaryEnd struct {
	Chats     int
	Truncated bool
	NextFrom  *time.Time
}

// summaryWriter writes summaries in one format; the summarizer feeds both formats, so
// JSON and CSV carry the same values.
type summaryWriter interface {
	begin() error
	write(*Summary) error
	end(summaryEnd) error
}

// timeText is how both formats write a time: RFC 3339, UTC, milliseconds.
const timeText = "2006-01-02T15:04:05.000Z07:00"

// jsonSummaries writes one JSON object, streamed:
// {"v":1,"from":...,"to":...,"until":...,"summaries":[...],"chats":n,"truncated":b,"nextFrom":t|null}.
// An answer cut short is not valid JSON, so a client cannot take it for a whole one.
type jsonSummaries struct {
	w               io.Writer
	from, to, until time.Time
	n               int
}

func (j *jsonSummaries) begin() error {
	_, err := fmt.Fprintf(j.w, `{"v":%d,"from":%q,"to":%q,"until":%q,"summaries":[`, SummaryVersion,
		j.from.UTC().Format(time.RFC3339Nano), j.to.UTC().Format(time.RFC3339Nano), j.until.UTC().Format(time.RFC3339Nano))
	return err
}

func (j *jsonSummaries) write(s *Summary) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	sep := ",\n"
	if j.n == 0 {
		sep = "\n"
	}
	j.n++
	_, err = io.WriteString(j.w, sep+string(b))
	return err
}

func (j *jsonSummaries) end(e summaryEnd) error {
	next := "null"
	if e.NextFrom != nil {
		next = strconv.Quote(e.NextFrom.UTC().Format(time.RFC3339Nano))
	}
	_, err := fmt.Fprintf(j.w, "\n],\"chats\":%d,\"truncated\":%t,\"nextFrom\":%s}\n", e.Chats, e.Truncated, next)
	return err
}

// Trailer fields of a CSV answer (CSV has no place for them in the body).
const (
	TrailerChats     = "Chatgate-Chats"
	TrailerTruncated = "Chatgate-Truncated"
	TrailerNextFrom  = "Chatgate-Next-From"
)

// csvColumn is one column of the CSV answer: its header and its cell.
type csvColumn struct {
	name string
	cell func(*Summary) string
}

func optTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(timeText)
}

func optInt[T int | int64](n *T) string {
	if n == nil {
		return ""
	}
	return strconv.FormatInt(int64(*n), 10)
}

func jsonCell(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// SummaryCSVHeader is the CSV answer's header row (docs/workflow.md defines each column; it
// is the JSON field of the same name).
var SummaryCSVHeader = func() []string {
	h := make([]string, len(csvColumns))
	for i, c := range csvColumns {
		h[i] = c.name
	}
	return h
}()

var csvColumns = []csvColumn{
	{"v", func(s *Summary) string { return strconv.Itoa(s.V) }},
	{"chatId", func(s *Summary) string { return s.ChatID }},
	{"service", func(s *Summary) string { return s.Service }},
	{"async", func(s *Summary) string { return strconv.FormatBool(s.Async) }},
	{"created", func(s *Summary) string { return s.Created.UTC().Format(timeText) }},
	{"ended", func(s *Summary) string { return strconv.FormatBool(s.Ended) }},
	{"endedAt", func(s *Summary) string { return optTime(s.EndedAt) }},
	{"endReason", func(s *Summary) string {
		if s.EndReason == nil {
			return ""
		}
		return *s.EndReason
	}},
	{"endReasonCode", func(s *Summary) string { return optInt(s.EndReasonCode) }},
	{"firstCustomerMessageAt", func(s *Summary) string { return optTime(s.FirstCustomerMessageAt) }},
	{"firstAgentResponseAt", func(s *Summary) string { return optTime(s.FirstAgentResponseAt) }},
	{"firstResponseMs", func(s *Summary) string { return optInt(s.FirstResponseMs) }},
	{"handleMs", func(s *Summary) string { return strconv.FormatInt(s.HandleMs, 10) }},
	{"holdMs", func(s *Summary) string { return strconv.FormatInt(s.HoldMs, 10) }},
	{"holds", func(s *Summary) string { return strconv.Itoa(s.Holds) }},
	{"transfers", func(s *Summary) string { return strconv.Itoa(s.Transfers) }},
	{"customerMessages", func(s *Summary) string { return strconv.Itoa(s.CustomerMessages) }},
	{"agentMessages", func(s *Summary) string { return strconv.Itoa(s.AgentMessages) }},
	{"statusHistory", func(s *Summary) string { return jsonCell(s.StatusHistory) }},
	{"statusHistoryTruncated", func(s *Summary) string { return strconv.FormatBool(s.StatusHistoryTruncated) }},
	{"parties", func(s *Summary) string { return jsonCell(s.Parties) }},
	{"partiesTruncated", func(s *Summary) string { return strconv.FormatBool(s.PartiesTruncated) }},
	{"asOf", func(s *Summary) string { return s.AsOf.UTC().Format(timeText) }},
	{"firstSeq", func(s *Summary) string { return strconv.FormatUint(s.FirstSeq, 10) }},
	{"lastSeq", func(s *Summary) string { return strconv.FormatUint(s.LastSeq, 10) }},
	{"records", func(s *Summary) string { return strconv.Itoa(s.Records) }},
}

// CSVSafe defuses a cell a spreadsheet would run as a formula (CSV injection): a value that
// starts with = + - @, a tab or a carriage return gets a leading apostrophe.
func CSVSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// csvSummaries writes RFC 4180 CSV: CRLF line ends, the header row first, fields quoted
// when they hold a comma, a quote or a line break; every cell through CSVSafe. The end
// goes into HTTP trailers.
type csvSummaries struct {
	w   *csv.Writer
	h   http.Header
	row []string
}

func newCSVSummaries(w http.ResponseWriter) *csvSummaries {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	return &csvSummaries{w: cw, h: w.Header(), row: make([]string, len(csvColumns))}
}

func (c *csvSummaries) begin() error {
	if err := c.w.Write(SummaryCSVHeader); err != nil {
		return err
	}
	c.w.Flush()
	return c.w.Error()
}

func (c *csvSummaries) write(s *Summary) error {
	for i, col := range csvColumns {
		c.row[i] = CSVSafe(col.cell(s))
	}
	return c.w.Write(c.row)
}

func (c *csvSummaries) end(e summaryEnd) error {
	c.w.Flush()
	c.h.Set(TrailerChats, strconv.Itoa(e.Chats))
	c.h.Set(TrailerTruncated, strconv.FormatBool(e.Truncated))
	if e.NextFrom != nil {
		c.h.Set(TrailerNextFrom, e.NextFrom.UTC().Format(time.RFC3339Nano))
	}
	return c.w.Error()
}
