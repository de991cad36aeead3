package chatcore

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"
)

// storedCheckAt reads GCTI_Chat_AsyncCheckAt from the chat's state document in JetStream.
func storedCheckAt(t *testing.T, tc *testCore, id string) int64 {
	t.Helper()
	raw, _, err := tc.eng.store.LoadChat(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var st chatState
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st.CheckAt
}

// Issue 11 item 3 (the known CheckAt bug): raising or lowering async-idle-close or
// async-idle-alert after an alert recomputes a running chat's GCTI_Chat_AsyncCheckAt at
// once (not at its next activity), stores it, and tells the listeners; the timers agree
// with it; a restart keeps it.
func TestOptionsChangedMovesCheckAt(t *testing.T) {
	ctx := context.Background()
	ob := asyncOpts() // alert 100 s, close 50 s, margin 60 s
	tc := newCore(t, nil, nil, ob, nil)
	alerted := mustCreate(t, tc, asyncUD())
	resumed := mustCreate(t, tc, asyncUD()) // active again after its alert
	never := mustCreate(t, tc, asyncUD())   // active before its alert: no CheckAt yet
	tc.advance(t, 90*time.Second)
	if _, err := tc.SendMessage(ctx, never.ChatID, never.UserID, "early", ""); err != nil {
		t.Fatal(err)
	}
	tc.advance(t, 10*time.Second) // t = 100 s: two alerts, CheckAt = 100 + 50 + 60
	for _, id := range []string{alerted.ChatID, resumed.ChatID} {
		if v := tc.mustView(t, id); v.AsyncStatus != AsyncAlerted || v.CheckAt != t0.Add(210*time.Second).Unix() {
			t.Fatalf("after the alert: status %d CheckAt %d", v.AsyncStatus, v.CheckAt)
		}
	}
	tc.advance(t, 10*time.Second)
	if _, err := tc.SendMessage(ctx, resumed.ChatID, resumed.UserID, "back", ""); err != nil {
		t.Fatal(err)
	}
	if v := tc.mustView(t, resumed.ChatID); v.CheckAt != t0.Add(320*time.Second).Unix() { // 110 + 100 + 50 + 60
		t.Fatalf("after activity: CheckAt %d", v.CheckAt)
	}

	// check: the view, the listeners and (stored: the change came from the options, with no
	// event a reload could replay) the chat's state document in JetStream agree.
	check := func(step string, id string, want time.Time, stored bool) {
		t.Helper()
		w := want.Unix()
		if v := tc.mustView(t, id); v.CheckAt != w {
			t.Fatalf("%s: view CheckAt %d, want %d", step, v.CheckAt, w)
		}
		if got := storedCheckAt(t, tc, id); stored && got != w {
			t.Fatalf("%s: stored CheckAt %d, want %d", step, got, w)
		}
		tc.rec.waitFor(t, step+": the property change", func() bool {
			return tc.rec.prop(id, PropAsyncCheckAt) == strconv.FormatInt(w, 10)
		})
	}

	// Raise async-idle-close: the alerted chat's CheckAt is alert + 500 + 60.
	ob.set(func(o *Options) { o.Settings.AsyncIdleClose = 500 * time.Second })
	tc.OptionsChanged()
	check("close raised", alerted.ChatID, t0.Add(660*time.Second), true)
	check("close raised", resumed.ChatID, t0.Add(770*time.Second), true) // 110 + 100 + 500 + 60
	if v := tc.mustView(t, never.ChatID); v.CheckAt != 0 {
		t.Fatalf("a chat never alerted got CheckAt %d", v.CheckAt)
	}

	// Lower async-idle-alert: the chat that is not alerted moves; never's alert (last
	// activity 90 s + 20 s) falls due now and sets its CheckAt from the alert.
	ob.set(func(o *Options) { o.Settings.AsyncIdleAlert = 20 * time.Second })
	tc.rec.mu.Lock()
	n := len(tc.rec.props[alerted.ChatID])
	tc.rec.mu.Unlock()
	tc.OptionsChanged()
	tc.settle(t)
	check("alert lowered", resumed.ChatID, t0.Add(690*time.Second), true) // 110 + 20 + 500 + 60
	check("alert lowered", alerted.ChatID, t0.Add(660*time.Second), true)
	check("alert lowered", never.ChatID, t0.Add(670*time.Second), false) // 110 + 500 + 60
	tc.rec.mu.Lock()
	if got := len(tc.rec.props[alerted.ChatID]); got != n {
		tc.rec.mu.Unlock()
		t.Fatalf("an unchanged CheckAt was reported: %d property changes, had %d", got, n)
	}
	tc.rec.mu.Unlock()

	// Lower async-idle-close below the time already spent alerted: alerted's close is due at
	// once; the others' CheckAt follow, and their timers agree with them.
	ob.set(func(o *Options) { o.Settings.AsyncIdleClose = 5 * time.Second })
	tc.OptionsChanged()
	tc.settle(t)
	if got := tc.types(alerted.ChatID, 2); !slices.Equal(got, []string{"Notice:alert", "Notice:close", "ParticipantLeft:7"}) {
		t.Fatalf("alerted chat after close lowered: %v", got)
	}
	check("close lowered", never.ChatID, t0.Add(175*time.Second), true)   // 110 + 5 + 60
	check("close lowered", resumed.ChatID, t0.Add(195*time.Second), true) // 110 + 20 + 5 + 60
	tc.advance(t, 5*time.Second)                                          // t = 115 s: never's close
	if v := tc.mustView(t, never.ChatID); !v.Ended {
		t.Fatal("never not closed at alert + async-idle-close")
	}
	tc.advance(t, 15*time.Second) // t = 130 s: resumed's alert, CheckAt 130 + 5 + 60 as announced
	check("alerted again", resumed.ChatID, t0.Add(195*time.Second), false)
	tc.advance(t, 5*time.Second)
	if v := tc.mustView(t, resumed.ChatID); !v.Ended {
		t.Fatal("resumed not closed at alert + async-idle-close")
	}
}
