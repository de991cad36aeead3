package chatcore

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSystemNotice: the server's notice is committed from "system" (External), is not
// activity (the async idle alert still fires on time) and does not change the async status;
// refusals commit nothing.
func TestSystemNotice(t *testing.T) {
	ctx := context.Background()
	o := DefaultOptions()
	o.Settings.FlexDisconnectTimeout = 1728000 * time.Second // the customer stays while the clock moves a day
	tc := newCore(t, nil, nil, &optBox{o: o}, nil)
	cr, err := tc.CreateChat(ctx, CreateRequest{Service: "s", Nickname: "Ann", UserData: map[string]string{PropAsyncMode: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	alert := o.Settings.AsyncIdleAlert
	tc.advance(t, alert-time.Minute)
	res, err := tc.SystemNotice(ctx, cr.ChatID, "All agents are busy.", map[string]string{"routing-notice": "no-agent"})
	if err != nil {
		t.Fatal(err)
	}
	ev := res.Events[0]
	if ev.Type != EventNotice || ev.From != systemFrom || ev.Text != "All agents are busy." || ev.UserData["routing-notice"] != "no-agent" {
		t.Fatalf("event %+v", ev)
	}
	if res.Chat.AsyncStatus != AsyncCreated {
		t.Fatalf("status %d", res.Chat.AsyncStatus)
	}
	tc.advance(t, time.Minute)
	if v, _ := tc.Chat(cr.ChatID); v.AsyncStatus != AsyncAlerted {
		t.Fatalf("the notice counted as activity: status %d", v.AsyncStatus)
	}
	last := res.Chat.LastIndex + 1 // the alert
	for _, bad := range []struct {
		text string
		ud   map[string]string
		want error
	}{
		{"", nil, ErrInvalid},
		{"x", map[string]string{KeyIdleControl: "close"}, ErrInvalid},
		{string(make([]byte, 17*1024)), nil, ErrTooLarge},
	} {
		if _, err := tc.SystemNotice(ctx, cr.ChatID, bad.text, bad.ud); !errors.Is(err, bad.want) {
			t.Fatalf("%.10q: %v, want %v", bad.text, err, bad.want)
		}
	}
	if _, err := tc.EndChat(ctx, cr.ChatID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.SystemNotice(ctx, cr.ChatID, "late", nil); !errors.Is(err, ErrChatEnded) {
		t.Fatalf("ended chat: %v", err)
	}
	if _, err := tc.SystemNotice(ctx, "nope", "x", nil); !errors.Is(err, ErrChatNotFound) {
		t.Fatalf("unknown chat: %v", err)
	}
	v, _ := tc.Chat(cr.ChatID)
	evs, _ := tc.Events(ctx, cr.ChatID, last+1)
	for _, e := range evs {
		if e.Type == EventNotice && e.From == systemFrom && e.UserData[KeyIdleControl] == "" {
			t.Fatalf("a refused notice was committed: %+v (last %d)", e, v.LastIndex)
		}
	}
}
