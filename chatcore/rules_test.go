package chatcore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

var pushUD = map[string]string{"push_notification_deviceid": "dev-1", "push_notification_type": "fcm"}

func asyncUD() map[string]string {
	return map[string]string{PropAsyncMode: "true", "push_notification_deviceid": "dev-1", "push_notification_type": "fcm"}
}

func asyncOpts() *optBox {
	o := DefaultOptions()
	o.Settings.AsyncIdleAlert = 100 * time.Second
	o.Settings.AsyncIdleClose = 50 * time.Second
	o.Settings.FlexPushTimeout = 1728000 * time.Second
	o.Settings.FlexDisconnectTimeout = 1728000 * time.Second
	return &optBox{o: o}
}

func mustCreate(t *testing.T, tc *testCore, ud map[string]string) Created {
	t.Helper()
	cr, err := tc.CreateChat(context.Background(), CreateRequest{Service: "svc", Nickname: "Ann", UserData: ud})
	if err != nil {
		t.Fatal(err)
	}
	return cr
}

func TestAsyncIdleAlertAndClose(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, asyncOpts(), nil)
	cr := mustCreate(t, tc, asyncUD())
	id := cr.ChatID
	tc.settle(t)
	if got := tc.rec.prop(id, PropAsyncStatus); got != "1" {
		t.Fatalf("status on creation %q", got)
	}
	tc.advance(t, 60*time.Second)
	if _, err := tc.SendMessage(ctx, id, cr.UserID, "anyone?", ""); err != nil {
		t.Fatal(err)
	}
	if got := tc.rec.prop(id, PropAsyncStatus); got != "2" {
		t.Fatalf("status after customer message without agent %q", got)
	}
	tc.advance(t, 99*time.Second) // alert due at 160 s
	if got := tc.types(id, 1); len(got) != 2 {
		t.Fatalf("early alert: %v", got)
	}
	tc.advance(t, time.Second)
	last, _ := tc.rec.lastEvent(id)
	if last.Type != EventNotice || last.UserData[KeyIdleControl] != "alert" || last.Text != DefaultOptions().InactivityControl.MessageAlert || last.From.Type != External {
		t.Fatalf("alert: %+v", last)
	}
	if got := tc.rec.prop(id, PropAsyncStatus); got != "3" {
		t.Fatalf("status after alert %q", got)
	}
	wantCheck := t0.Add(160*time.Second + 50*time.Second + 60*time.Second).Unix()
	if got := tc.rec.prop(id, PropAsyncCheckAt); got != strconv.FormatInt(wantCheck, 10) {
		t.Fatalf("checkAt %q want %d", got, wantCheck)
	}
	// Activity during async-idle-close stops it and re-arms the alert.
	tc.advance(t, 49*time.Second)
	if _, err := tc.SendMessage(ctx, id, cr.UserID, "still here", ""); err != nil {
		t.Fatal(err)
	}
	if got := tc.rec.prop(id, PropAsyncStatus); got != "2" {
		t.Fatalf("status after activity following the alert %q", got)
	}
	tc.advance(t, 99*time.Second)
	if got := tc.types(id, 5); len(got) != 0 {
		t.Fatalf("events before the re-armed alert: %v", got)
	}
	tc.advance(t, time.Second)
	tc.advance(t, 50*time.Second)
	want := []string{"Notice:alert", "Notice:close", "ParticipantLeft:7"}
	if got := tc.types(id, 5); !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	v, _ := tc.Chat(id)
	if !v.Ended || tc.rec.prop(id, PropIsOnline) != "false" {
		t.Fatalf("chat not ended: %+v", v)
	}
	if _, err := tc.SendMessage(ctx, id, cr.UserID, "late", ""); err == nil {
		t.Fatal("message after close accepted")
	}
}

func TestAsyncStatusAgentsBotsHold(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, asyncOpts(), nil)
	cr := mustCreate(t, tc, asyncUD())
	id := cr.ChatID
	bot, _, err := tc.Join(ctx, id, JoinRequest{Type: External, Nickname: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	tc.advance(t, 90*time.Second)
	// A bot's message is not activity: the alert stays due at 100 s.
	if _, err := tc.SendMessage(ctx, id, bot.UserID, "I am a bot", ""); err != nil {
		t.Fatal(err)
	}
	tc.advance(t, 10*time.Second)
	if last, _ := tc.rec.lastEvent(id); last.UserData[KeyIdleControl] != "alert" {
		t.Fatalf("bot message re-armed the alert: %+v", last)
	}
	ag, _, err := tc.Join(ctx, id, JoinRequest{Type: Agent, Nickname: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	if got := tc.rec.prop(id, PropAsyncStatus); got != "-1" {
		t.Fatalf("status with agent %q", got)
	}
	// Customer message with an agent present: status stays -1.
	if _, err := tc.SendMessage(ctx, id, cr.UserID, "hi", ""); err != nil {
		t.Fatal(err)
	}
	if got := tc.rec.prop(id, PropAsyncStatus); got != "-1" {
		t.Fatalf("status %q", got)
	}
	res, err := tc.Hold(ctx, id, ag.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Chat.AsyncStatus != AsyncOnHold || tc.rec.prop(id, PropAsyncStatus) != "-2" {
		t.Fatalf("hold: %d %q", res.Chat.AsyncStatus, tc.rec.prop(id, PropAsyncStatus))
	}
	if p, _ := res.Chat.Participant(ag.UserID); p.Present {
		t.Fatal("agent still present after hold")
	}
	// The dormant chat wakes on customer activity.
	if _, err := tc.PushURL(ctx, id, cr.UserID, "https://example.com"); err != nil {
		t.Fatal(err)
	}
	if got := tc.rec.prop(id, PropAsyncStatus); got != "2" {
		t.Fatalf("status after customer notice on hold %q", got)
	}
}

func TestNoticeSets(t *testing.T) {
	all := []EventType{EventMessage, EventPushURL, EventFileUploaded, EventFileDeleted, EventCustomNotice, EventTypingStarted, EventTypingStopped, EventNicknameUpdated}
	want := map[NoticeSet][]EventType{
		NoticesNone:   {EventMessage},
		NoticesMajor:  {EventMessage, EventPushURL, EventFileUploaded, EventFileDeleted},
		NoticesMajor2: {EventMessage, EventPushURL, EventFileUploaded, EventFileDeleted, EventCustomNotice},
		NoticesTyping: {EventMessage, EventPushURL, EventFileUploaded, EventFileDeleted, EventTypingStarted},
		NoticesAll:    all,
	}
	for set, w := range want {
		for _, typ := range all {
			if got := set.Counts(typ); got != slices.Contains(w, typ) {
				t.Errorf("%s counts %s = %v", set, typ, got)
			}
		}
	}
}

// TestIdleNoticesLive: typing re-arms the async alert under "typing" but not under "major".
func TestIdleNoticesLive(t *testing.T) {
	for _, tt := range []struct {
		set     NoticeSet
		rearmed bool
	}{{NoticesMajor, false}, {NoticesTyping, true}, {NoticesAll, true}, {NoticesNone, false}} {
		t.Run(string(tt.set), func(t *testing.T) {
			ob := asyncOpts()
			ob.set(func(o *Options) { o.Settings.AsyncIdleNotices = tt.set })
			tc := newCore(t, nil, nil, ob, nil)
			cr := mustCreate(t, tc, asyncUD())
			tc.advance(t, 50*time.Second)
			if _, err := tc.StartTyping(context.Background(), cr.ChatID, cr.UserID, "hel"); err != nil {
				t.Fatal(err)
			}
			tc.advance(t, 50*time.Second)
			alerted := slices.Contains(tc.types(cr.ChatID, 1), "Notice:alert")
			if alerted == tt.rearmed {
				t.Fatalf("alert at 100 s = %v, typing re-arms = %v", alerted, tt.rearmed)
			}
			if tt.rearmed {
				if got := tc.rec.prop(cr.ChatID, PropAsyncStatus); got != "2" {
					t.Fatalf("status %q", got)
				}
			}
		})
	}
}

func TestRegularInactivityControl(t *testing.T) {
	for _, tt := range []struct {
		name   string
		alert2 time.Duration
		msg    string
		want   []string
		steps  []time.Duration
	}{
		{"alert-close", 0, "bye", []string{"Notice:alert", "Notice:close", "ParticipantLeft:7"}, []time.Duration{10, 3}},
		{"alert-alert2-close", 5, "bye", []string{"Notice:alert", "Notice:alert2", "Notice:close", "ParticipantLeft:7"}, []time.Duration{10, 5, 3}},
		{"empty-close-text", 0, "", []string{"Notice:alert", "ParticipantLeft:7"}, []time.Duration{10, 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ob := &optBox{o: DefaultOptions()}
			ob.set(func(o *Options) {
				o.InactivityControl.Enabled = true
				o.InactivityControl.TimeoutAlert = 10 * time.Second
				o.InactivityControl.TimeoutAlert2 = tt.alert2 * time.Second
				o.InactivityControl.TimeoutClose = 3 * time.Second
				o.InactivityControl.MessageClose = tt.msg
				o.Settings.FlexDisconnectTimeout = 1000 * time.Second
			})
			tc := newCore(t, nil, nil, ob, nil)
			cr := mustCreate(t, tc, nil)
			for i, s := range tt.steps {
				tc.advance(t, s*time.Second-time.Millisecond)
				if got := tc.types(cr.ChatID, 2); len(got) != i {
					t.Fatalf("step %d early: %v", i, got)
				}
				tc.advance(t, time.Millisecond)
			}
			if got := tc.types(cr.ChatID, 2); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v want %v", got, tt.want)
			}
			evs := tc.rec.eventsOf(cr.ChatID)
			if evs[1].Text != DefaultOptions().InactivityControl.MessageAlert {
				t.Fatalf("alert text %q", evs[1].Text)
			}
			if tt.alert2 > 0 && evs[2].Text != DefaultOptions().InactivityControl.MessageAlert2 {
				t.Fatalf("alert2 text %q", evs[2].Text)
			}
		})
	}
}

func TestOptionChangesWhileTimersRun(t *testing.T) {
	ob := asyncOpts()
	tc := newCore(t, nil, nil, ob, nil)
	a := mustCreate(t, tc, asyncUD())
	tc.advance(t, 10*time.Second)
	// Shorter: the running alert (due at 100 s) now falls due at 20 s.
	ob.set(func(o *Options) { o.Settings.AsyncIdleAlert = 20 * time.Second })
	tc.OptionsChanged()
	tc.advance(t, 9*time.Second)
	if got := tc.types(a.ChatID, 2); len(got) != 0 {
		t.Fatalf("early: %v", got)
	}
	tc.advance(t, time.Second)
	if got := tc.types(a.ChatID, 2); !slices.Equal(got, []string{"Notice:alert"}) {
		t.Fatalf("after shortening: %v", got)
	}
	// Longer close: due 50 s after the alert becomes 200 s after it.
	ob.set(func(o *Options) { o.Settings.AsyncIdleClose = 200 * time.Second })
	tc.OptionsChanged()
	tc.advance(t, 199*time.Second)
	if got := tc.types(a.ChatID, 2); len(got) != 1 {
		t.Fatalf("close fired with the old value: %v", got)
	}
	tc.advance(t, time.Second)
	if got := tc.types(a.ChatID, 2); !slices.Equal(got, []string{"Notice:alert", "Notice:close", "ParticipantLeft:7"}) {
		t.Fatalf("after lengthening: %v", got)
	}
	// Regular inactivity control switched on at runtime applies to a running chat.
	b := mustCreate(t, tc, nil)
	tc.Touch(b.ChatID, "")
	ob.set(func(o *Options) {
		o.InactivityControl.Enabled = true
		o.InactivityControl.TimeoutAlert = 5 * time.Second
		o.Settings.FlexDisconnectTimeout = 1000 * time.Second
	})
	tc.OptionsChanged()
	tc.advance(t, 5*time.Second)
	if got := tc.types(b.ChatID, 2); !slices.Equal(got, []string{"Notice:alert"}) {
		t.Fatalf("enabled at runtime: %v", got)
	}
}

func TestFlexDisconnectTimeout(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, nil, nil) // defaults: 45 s
	cr := mustCreate(t, tc, nil)
	tc.advance(t, 30*time.Second)
	if err := tc.Touch(cr.ChatID, cr.UserID); err != nil {
		t.Fatal(err)
	}
	tc.advance(t, 30*time.Second)
	if _, err := tc.SendMessage(ctx, cr.ChatID, cr.UserID, "op counts as a request", ""); err != nil {
		t.Fatal(err)
	}
	tc.advance(t, 45*time.Second-time.Millisecond)
	if got := tc.types(cr.ChatID, 3); len(got) != 0 {
		t.Fatalf("early removal: %v", got)
	}
	tc.advance(t, time.Millisecond)
	if got := tc.types(cr.ChatID, 3); !slices.Equal(got, []string{"ParticipantLeft:3"}) {
		t.Fatalf("got %v", got)
	}
	if v, _ := tc.Chat(cr.ChatID); !v.Ended || v.CustomerPresent {
		t.Fatal("customer not removed")
	}
}

// fakeLiveness answers from a script and counts calls (the real one is web/pushlink).
type fakeLiveness struct {
	mu      sync.Mutex
	answers []bool
	calls   int
}

func (f *fakeLiveness) CheckAlive(ctx context.Context, chatID, userID string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(f.answers) == 0 {
		return false, fmt.Errorf("no answer scripted")
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return a, nil
}

func (f *fakeLiveness) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestFlexPushTimeoutLiveness(t *testing.T) {
	live := &fakeLiveness{answers: []bool{true, false}}
	tc := newCore(t, nil, nil, nil, live) // flex-push-timeout 300 s
	cr := mustCreate(t, tc, pushUD)
	tc.advance(t, 299*time.Second)
	if live.count() != 0 {
		t.Fatal("early check")
	}
	tc.advance(t, time.Second)
	if live.count() != 1 {
		t.Fatalf("checks %d", live.count())
	}
	// Confirmed alive: the timer restarts from the check.
	tc.advance(t, 300*time.Second)
	if live.count() != 2 {
		t.Fatalf("checks %d", live.count())
	}
	// Not confirmed: re-armed once, then removed.
	tc.advance(t, 300*time.Second-time.Millisecond)
	if got := tc.types(cr.ChatID, 2); len(got) != 0 {
		t.Fatalf("early removal %v", got)
	}
	tc.advance(t, time.Millisecond)
	if got := tc.types(cr.ChatID, 2); !slices.Equal(got, []string{"ParticipantLeft:3"}) {
		t.Fatalf("got %v", got)
	}
	if live.count() != 2 {
		t.Fatalf("checks %d", live.count())
	}
}

func TestFlexPushRequestDuringRearm(t *testing.T) {
	live := &fakeLiveness{answers: []bool{false, false}}
	tc := newCore(t, nil, nil, nil, live)
	cr := mustCreate(t, tc, pushUD)
	tc.advance(t, 300*time.Second) // check → not alive → re-armed
	tc.advance(t, 200*time.Second)
	if err := tc.Touch(cr.ChatID, cr.UserID); err != nil { // the app came back
		t.Fatal(err)
	}
	tc.advance(t, 299*time.Second)
	if got := tc.types(cr.ChatID, 2); len(got) != 0 || live.count() != 1 {
		t.Fatalf("removed despite request: %v (checks %d)", got, live.count())
	}
	tc.advance(t, time.Second)
	if live.count() != 2 {
		t.Fatalf("checks %d", live.count())
	}
}
