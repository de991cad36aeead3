package feed

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// SchemaVersion is the version of Record's JSON shape (docs/workflow.md "Event feed").
// Adding a field keeps the version; renaming, removing or changing the meaning of one bumps it.
const SchemaVersion = 1

// Record kinds.
const (
	KindEvent      = "event"
	KindProperties = "properties"
	// KindEnd is the export's trailer line, never a stored record.
	KindEnd = "end"
	// KindUserData: a change of the chat's userData (changes.go).
	KindUserData = "userData"
	// KindPurged: the chat was purged by retention (changes.go).
	KindPurged = "purged"
)

// Record is one entry of the feed: a committed transcript event or a change of the
// interaction properties the core maintains. Seq is the feed stream's sequence (the SSE id,
// the webhook delivery id); it is 0 until the record is stored and filled in when read.
type Record struct {
	V       int    `json:"v"`
	Seq     uint64 `json:"seq,omitempty"`
	Kind    string `json:"kind"`
	ChatID  string `json:"chatId"`
	Service string `json:"service"`
	// Time is when the record was made (RFC 3339, UTC, milliseconds): the event's own time
	// for events, the listener's clock for property changes.
	Time time.Time `json:"time"`
	// Stored is when the feed stored the record (JetStream's time; what export ranges use).
	// Set when read; absent from webhook and SSE bodies only when zero.
	Stored time.Time `json:"stored,omitzero"`
	// LastIndex is the chat's last transcript index as of this record.
	LastIndex int64 `json:"lastIndex"`
	// Event is set for KindEvent.
	Event *chatcore.Event `json:"event,omitempty"`
	// Properties holds the new values of the changed properties, for KindProperties.
	Properties map[string]string `json:"properties,omitempty"`
	// Changes holds, for KindProperties, each changed property's value before and after.
	// Absent from records made without the old values (a backfill after a crash).
	Changes map[string]Change `json:"changes,omitempty"`
	// UserData holds, for KindUserData, each changed userData key (secrets redacted).
	UserData map[string]Change `json:"userData,omitempty"`
	// Purge is set for KindPurged.
	Purge *Purge `json:"purge,omitempty"`
}

// Type is what subscriptions filter on: the event's type for events (Message,
// ParticipantJoined, ...), the kind for the others ("properties", "userData", "purged").
func (r Record) Type() string {
	if r.Kind == KindEvent && r.Event != nil {
		return string(r.Event.Type)
	}
	return r.Kind
}

// Filter selects records by type and service; an empty list matches everything.
type Filter struct {
	Types    []string `json:"types,omitempty"`
	Services []string `json:"services,omitempty"`
}

// Match reports whether r passes the filter.
func (f Filter) Match(r Record) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, r.Type()) {
		return false
	}
	return len(f.Services) == 0 || slices.Contains(f.Services, r.Service)
}

// ParseFilter reads comma-separated types= and services= query values.
func ParseFilter(types, services string) Filter {
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	return Filter{Types: split(types), Services: split(services)}
}

// eventRecord builds the record of a committed event.
func eventRecord(v chatcore.ChatView, ev chatcore.Event) Record {
	e := ev
	e.UserData = redactValues(ev.UserData)
	return Record{
		V: SchemaVersion, Kind: KindEvent, ChatID: v.ID, Service: v.Service,
		Time: time.UnixMilli(ev.UTCTime).UTC(), LastIndex: ev.Index, Event: &e,
	}
}

// propsRecord builds the record of a property change.
func propsRecord(v chatcore.ChatView, changed map[string]string, now time.Time) Record {
	return Record{
		V: SchemaVersion, Kind: KindProperties, ChatID: v.ID, Service: v.Service,
		Time: now.UTC().Truncate(time.Millisecond), LastIndex: v.LastIndex, Properties: changed,
	}
}

// decodeRecord reads a stored record and stamps its stream sequence.
func decodeRecord(b []byte, seq uint64, stored time.Time) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("feed record %d: %w", seq, err)
	}
	r.Seq, r.Stored = seq, stored.UTC()
	return r, nil
}

// subjectToken turns a chat id into one NATS subject token. Chat ids made by the core are
// letters and digits and stay as they are; anything else (a dot, a wildcard, a space, an
// empty id, or an id that itself starts with "x_") is hex-encoded behind "x_", so it cannot
// change the subject's shape and two ids never share a token.
func subjectToken(id string) string {
	plain := id != "" && !strings.HasPrefix(id, "x_")
	for i := 0; plain && i < len(id); i++ {
		c := id[i]
		plain = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	if plain {
		return id
	}
	return fmt.Sprintf("x_%x", id)
}
