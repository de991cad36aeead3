package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/feed"
)

// TestUserDataChangesInFeedOverBinary: the customer's GMS REST updateData and the
// workflow's set-properties operation add no transcript event, yet each appears in the
// binary's event stream once, in order, with old and new values; the webapi token the
// customer sent at creation and the push device id never appear.
func TestUserDataChangesInFeedOverBinary(t *testing.T) {
	const secret = "tok-e2e-5ecret"
	p := startProcessEnv(t, []string{"CHATGATE_ADMIN_TOKEN=" + feedToken, "CHATGATE_FEED_HEARTBEAT=200ms"},
		"--addr", "127.0.0.1:0", "--data", t.TempDir())
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Ann"}, "userData[topic]": {"invoice"}, "userData[ChatServerWebapiToken]": {secret}})
	if r := c.op("updateData", "userData[topic]", "refund", "userData[push_notification_deviceid]", secret); r.HTTP != 200 || r.StatusCode != 0 {
		t.Fatalf("updateData: %+v", r)
	}
	if code := feedCall(t, p, "POST", "/chats/"+c.chatID+"/properties", `{"userData":{"segment":"gold"}}`, nil); code != 200 {
		t.Fatalf("set properties: %d", code)
	}
	userData := func(rs []feed.Record) (out []map[string]feed.Change) {
		for _, r := range rs {
			if r.ChatID == c.chatID && r.Kind == feed.KindUserData {
				out = append(out, r.UserData)
			}
		}
		return out
	}
	recs := sseRead(t, p, 1, func(rs []feed.Record) bool { return len(userData(rs)) >= 3 })
	for _, r := range recs {
		if b, _ := json.Marshal(r); strings.Contains(string(b), secret) {
			t.Fatalf("a secret in the feed: %s", b)
		}
	}
	got := userData(recs)
	val := func(ch feed.Change) string {
		switch {
		case ch.Redacted:
			return "redacted"
		case ch.Old != nil && ch.New != nil:
			return *ch.Old + "→" + *ch.New
		case ch.New != nil:
			return "→" + *ch.New
		}
		return "?"
	}
	flat := make([]map[string]string, len(got))
	for i, m := range got {
		flat[i] = map[string]string{}
		for k, ch := range m {
			flat[i][k] = val(ch)
		}
	}
	want := []map[string]string{
		{"topic": "→invoice", "ChatServerWebapiToken": "redacted"},
		{"topic": "invoice→refund", "push_notification_deviceid": "redacted"},
		{"segment": "→gold"},
	}
	if len(flat) != len(want) {
		t.Fatalf("userData records %v, want %v", flat, want)
	}
	for i := range want {
		for k, v := range want[i] {
			if flat[i][k] != v || len(flat[i]) != len(want[i]) {
				t.Fatalf("userData record %d: %v, want %v", i, flat[i], want[i])
			}
		}
	}
	// Neither change added an event: the transcript holds the customer's join only.
	last := int64(0)
	for _, r := range recs {
		if r.ChatID == c.chatID && r.Kind == feed.KindEvent {
			last = r.Event.Index
		}
	}
	if last != 1 {
		t.Fatalf("the chat's last event index %d, want 1", last)
	}
	// The chat's first properties record is the creation's: new values, no old ones.
	for _, r := range recs {
		if r.ChatID != c.chatID || r.Kind != feed.KindProperties {
			continue
		}
		if on := r.Changes[chatcore.PropIsOnline]; on.New == nil || *on.New != "true" || on.Old != nil {
			t.Fatalf("the creation's properties record: %+v", r)
		}
		break
	}
}
