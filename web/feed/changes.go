package feed

import (
	"maps"
	"strings"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// Change is one value's change in a record: Old is absent when the key was not set before,
// New when it is gone. A userData key that may carry a secret (Redacted) shows neither,
// only that it changed.
type Change struct {
	Old      *string `json:"old,omitempty"`
	New      *string `json:"new,omitempty"`
	Redacted bool    `json:"redacted,omitempty"`
}

// Purge describes a purged chat (KindPurged).
type Purge struct {
	// EndedAt is when the chat ended; PurgedAt when retention deleted it.
	EndedAt  time.Time `json:"endedAt"`
	PurgedAt time.Time `json:"purgedAt"`
}

// RedactedValue replaces the value of a secret userData key inside an event record.
const RedactedValue = "[redacted]"

// secretMarks are the parts of a userData key's name (lower case) that mark a value the
// feed never carries: credentials (ChatServerWebapiToken, an api key, a password, a
// session cookie, the customer's secureKey) and the push addresses of the customer's
// devices (push_notification_deviceid, GCTI_GMS_PushDeviceId, a Web Push subscription with
// its auth secret). The feed leaves the process — webhooks post it to other systems — so
// the rule errs on the side of hiding; the values stay in the chat (GET
// /workflow/v1/chats/{id}, an administrator's API).
var secretMarks = []string{
	"token", "secret", "password", "passwd", "apikey", "api_key", "api-key",
	"authorization", "credential", "cookie", "securekey", "deviceid", "push_notification_subscription",
}

// Secret reports whether a userData key's value is kept out of the feed.
func Secret(key string) bool {
	k := strings.ToLower(key)
	for _, m := range secretMarks {
		if strings.Contains(k, m) {
			return true
		}
	}
	return false
}

// redactValues returns ud with the values of secret keys replaced by RedactedValue (ud
// itself when there are none).
func redactValues(ud map[string]string) map[string]string {
	var out map[string]string
	for k := range ud {
		if Secret(k) {
			if out == nil {
				out = maps.Clone(ud)
			}
			out[k] = RedactedValue
		}
	}
	if out == nil {
		return ud
	}
	return out
}

// changes turns the core's value changes into record changes; redact hides the values of
// secret keys.
func changes(in map[string]chatcore.ValueChange, redact bool) map[string]Change {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]Change, len(in))
	for k, vc := range in {
		if redact && Secret(k) {
			out[k] = Change{Redacted: true}
			continue
		}
		var c Change
		if vc.OldSet {
			old := vc.Old
			c.Old = &old
		}
		if vc.NewSet {
			v := vc.New
			c.New = &v
		}
		out[k] = c
	}
	return out
}

// changeRecords builds the records of one commit's change: the properties first, then the
// userData, each only when something of it changed.
func changeRecords(v chatcore.ChatView, ch chatcore.Change, now time.Time) []Record {
	var out []Record
	if len(ch.Properties) > 0 {
		r := propsRecord(v, nil, now)
		r.Changes = changes(ch.Properties, false)
		for k, vc := range ch.Properties {
			if vc.NewSet {
				if r.Properties == nil {
					r.Properties = map[string]string{}
				}
				r.Properties[k] = vc.New
			}
		}
		out = append(out, r)
	}
	if len(ch.UserData) > 0 {
		out = append(out, Record{
			V: SchemaVersion, Kind: KindUserData, ChatID: v.ID, Service: v.Service,
			Time: now.UTC().Truncate(time.Millisecond), LastIndex: v.LastIndex, UserData: changes(ch.UserData, true),
		})
	}
	return out
}

// purgeRecord builds the record of a purged chat.
func purgeRecord(v chatcore.ChatView, at time.Time) Record {
	at = at.UTC().Truncate(time.Millisecond)
	return Record{
		V: SchemaVersion, Kind: KindPurged, ChatID: v.ID, Service: v.Service, Time: at, LastIndex: v.LastIndex,
		Purge: &Purge{EndedAt: v.EndedAt.UTC(), PurgedAt: at},
	}
}
