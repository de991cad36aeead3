package feed

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

func str(s string) *string { return &s }

// TestChangesInFeed: every property and userData change of a chat reaches an SSE client
// once, in the chat's order, with its old and new values: the creation's first values, the
// customer's userData update and the workflow's annotation (neither adds a transcript
// event), the agent's join (status 1 → -1), the end (IsOnline true → false) and the purge.
// The values of secret userData keys never appear, in change records or in events.
func TestChangesInFeed(t *testing.T) {
	e := newEnv(t, WebhookConfig{})
	ctx := context.Background()
	const secret = "tok-5ecret-value"
	cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "sales", Nickname: "Ann", UserData: map[string]string{
		chatcore.PropAsyncMode: "true", "ChatServerWebapiToken": secret, "topic": "invoice",
	}})
	if err != nil {
		t.Fatal(err)
	}
	id := cr.ChatID
	if _, err := e.core.UpdateUserData(ctx, id, cr.UserID, map[string]string{"topic": "refund", "push_notification_deviceid": secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.core.Annotate(ctx, id, map[string]string{"segment": "gold"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.core.SystemNotice(ctx, id, "hello", map[string]string{"apiKey": secret, "order": "42"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.core.Join(ctx, id, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: "Bob", UserID: "agent-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.core.EndChat(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.core.Purge(ctx, id); err != nil {
		t.Fatal(err)
	}

	resp, err := http.DefaultClient.Do(e.req("GET", "/feed/events?from=1", ""))
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan sseEvent, 1000)
	go readSSE(resp.Body, ch, new(int), &sync.Mutex{})
	var got []Record
	deadline := time.After(10 * time.Second)
	for len(got) == 0 || got[len(got)-1].Kind != KindPurged {
		select {
		case ev := <-ch:
			if ev.kind != ev.rec.Kind {
				t.Fatalf("SSE event %q for a %q record", ev.kind, ev.rec.Kind)
			}
			got = append(got, ev.rec)
		case <-deadline:
			t.Fatalf("no purge record after %d records", len(got))
		}
	}
	resp.Body.Close()
	for range ch {
	}

	type change struct {
		kind    string
		changes map[string]Change
	}
	var changesGot []change
	sch := recordSchema(t)
	for _, r := range got {
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), secret) {
			t.Fatalf("a secret in the feed: %s", b)
		}
		validate(t, sch, "record "+r.Kind, b)
		if r.ChatID != id || r.Service != "sales" {
			t.Fatalf("record %+v", r)
		}
		switch r.Kind {
		case KindProperties:
			changesGot = append(changesGot, change{r.Kind, r.Changes})
			for k, c := range r.Changes {
				if *c.New != r.Properties[k] {
					t.Fatalf("properties %v and changes %v disagree", r.Properties, r.Changes)
				}
			}
		case KindUserData:
			changesGot = append(changesGot, change{r.Kind, r.UserData})
		case KindEvent:
			if r.Event.Type == chatcore.EventNotice && (r.Event.UserData["apiKey"] != RedactedValue || r.Event.UserData["order"] != "42") {
				t.Fatalf("notice userData %v", r.Event.UserData)
			}
		}
	}
	want := []change{
		{KindProperties, map[string]Change{chatcore.PropAsyncStatus: {New: str("1")}, chatcore.PropIsOnline: {New: str("true")}, chatcore.PropChatServerAppName: {New: str("node-1")}}},
		{KindUserData, map[string]Change{chatcore.PropAsyncMode: {New: str("true")}, "ChatServerWebapiToken": {Redacted: true}, "topic": {New: str("invoice")}}},
		{KindUserData, map[string]Change{"topic": {Old: str("invoice"), New: str("refund")}, "push_notification_deviceid": {Redacted: true}}},
		{KindUserData, map[string]Change{"segment": {New: str("gold")}}},
		{KindProperties, map[string]Change{chatcore.PropAsyncStatus: {Old: str("1"), New: str("-1")}}},
		{KindProperties, map[string]Change{chatcore.PropIsOnline: {Old: str("true"), New: str("false")}}},
	}
	if !reflect.DeepEqual(changesGot, want) {
		b1, _ := json.Marshal(changesGot)
		b2, _ := json.Marshal(want)
		t.Fatalf("changes\n got %+v %s\nwant %s", changesGot, b1, b2)
	}
	p := got[len(got)-1]
	v := p.Purge
	if v == nil || v.EndedAt.IsZero() || v.PurgedAt.Before(v.EndedAt) || p.Type() != KindPurged {
		t.Fatalf("purge record %+v", p)
	}
	// Events and changes interleave in commit order: the join's event precedes its status
	// change, the end's events precede IsOnline false.
	joined, status := -1, -1
	for i, r := range got {
		if r.Kind == KindEvent && r.Event.Type == chatcore.EventParticipantJoined && r.Event.From.UserID == "agent-1" {
			joined = i
		}
		if r.Kind == KindProperties && r.Properties[chatcore.PropAsyncStatus] == "-1" {
			status = i
		}
	}
	if joined < 0 || status != joined+1 {
		t.Fatalf("the agent's join at %d, its status change at %d", joined, status)
	}
}
