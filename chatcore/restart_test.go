package chatcore

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestRestart: close the Core and the engine, reopen on the same data directory after a
// downtime. Every acknowledged event is still there, the customer resumes reading from a
// position with its secureKey, what fell due during the downtime fires at once on start,
// and a chat whose state document lagged its transcript is rebuilt from the transcript.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := NewManualClock(t0)
	ob := asyncOpts()

	eng1 := startEngine(t, dir, "")
	tc1 := newCore(t, eng1, clock, ob, nil)
	a := mustCreate(t, tc1, asyncUD()) // alert due at 100 s
	acked := map[string][]Event{}
	acked[a.ChatID] = append(acked[a.ChatID], a.Events...)
	for i := range 5 {
		r, err := tc1.SendMessage(ctx, a.ChatID, a.UserID, "m"+string(rune('0'+i)), "text")
		if err != nil {
			t.Fatal(err)
		}
		acked[a.ChatID] = append(acked[a.ChatID], r.Events...)
	}
	c := mustCreate(t, tc1, asyncUD())
	acked[c.ChatID] = append(acked[c.ChatID], c.Events...)
	tc1.advance(t, 90*time.Second)
	// Only in the transcript: a message does not rewrite the state document.
	r, err := tc1.SendMessage(ctx, c.ChatID, c.UserID, "late activity", "")
	if err != nil {
		t.Fatal(err)
	}
	acked[c.ChatID] = append(acked[c.ChatID], r.Events...)
	ag, r2, err := tc1.Join(ctx, a.ChatID, JoinRequest{Type: Agent, Nickname: "Bob", UserID: "agent-7"})
	if err != nil {
		t.Fatal(err)
	}
	acked[a.ChatID] = append(acked[a.ChatID], r2.Events...)
	tc1.Close()
	eng1.close()

	// Downtime: chat a's alert (due at 190 s, after the agent joined at 90 s) passes.
	clock.Advance(110 * time.Second) // t = 200 s

	eng2 := startEngine(t, dir, "")
	tc2 := newCore(t, eng2, clock, ob, nil)
	tc2.settle(t)
	// a: the alert fell due during the downtime and fires on start.
	evs, err := tc2.Events(ctx, a.ChatID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(acked[a.ChatID])+1 {
		t.Fatalf("chat a has %d events, want %d acknowledged + alert", len(evs), len(acked[a.ChatID]))
	}
	for i, ev := range acked[a.ChatID] {
		if !reflect.DeepEqual(ev, evs[i]) {
			t.Fatalf("event %d changed across restart:\n%+v\n%+v", i+1, ev, evs[i])
		}
	}
	if last := evs[len(evs)-1]; last.UserData[KeyIdleControl] != "alert" || last.UTCTime != clock.Now().UnixMilli() {
		t.Fatalf("no alert on start: %+v", last)
	}
	if got := tc2.rec.prop(a.ChatID, PropAsyncStatus); got != "3" {
		t.Fatalf("status after restart alert %q", got)
	}
	// c: its stored state still has the creation's last activity (0 s); the transcript has a
	// message at 90 s, replayed on start, so its alert is due at 190 s — also in the downtime.
	cev, _ := tc2.Events(ctx, c.ChatID, 1)
	if n := len(cev); n != 3 || cev[2].UserData[KeyIdleControl] != "alert" {
		t.Fatalf("chat c after restart: %+v", cev)
	}
	// The customer resumes: authenticate, read from a position, send.
	v, err := tc2.Authenticate("", a.SecureKey, a.UserID, "node-1")
	if err != nil || v.ID != a.ChatID {
		t.Fatalf("auth after restart: %v", err)
	}
	from3, err := tc2.Events(ctx, a.ChatID, 3)
	if err != nil || len(from3) != len(evs)-2 || from3[0].Index != 3 {
		t.Fatalf("read from 3: %d %v", len(from3), err)
	}
	res, err := tc2.SendMessage(ctx, a.ChatID, a.UserID, "back", "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Events[0].Index != int64(len(evs)+1) {
		t.Fatalf("index after restart %d", res.Events[0].Index)
	}
	if p, ok := res.Chat.Participant(ag.UserID); !ok || !p.Present || p.ParticipantID != 2 {
		t.Fatalf("agent after restart: %+v", p)
	}
	// Activity with an agent present after the alert: processing again.
	if got := tc2.rec.prop(a.ChatID, PropAsyncStatus); got != "-1" {
		t.Fatalf("status %q", got)
	}
	// Close of chat c (50 s after its alert at 200 s).
	tc2.advance(t, 50*time.Second)
	if got := tc2.types(c.ChatID, 1); !slices.Equal(got, []string{"Notice:alert", "Notice:close", "ParticipantLeft:7"}) {
		t.Fatalf("chat c: %v", got)
	}
}

// TestRestartLaggingState: the transcript postpones a deadline the stored state does not
// know about; after a restart the stale deadline is found not due once the chat is re-read.
func TestRestartLaggingState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := NewManualClock(t0)
	ob := asyncOpts()
	eng1 := startEngine(t, dir, "")
	tc1 := newCore(t, eng1, clock, ob, nil)
	a := mustCreate(t, tc1, asyncUD())
	tc1.advance(t, 90*time.Second)
	if _, err := tc1.SendMessage(ctx, a.ChatID, a.UserID, "x", ""); err != nil {
		t.Fatal(err)
	}
	// The stored document still has the creation's last activity.
	raw, _, err := eng1.store.LoadChat(ctx, a.ChatID)
	if err != nil {
		t.Fatal(err)
	}
	var st chatState
	if err := json.Unmarshal(raw, &st); err != nil || st.LastActivity != t0.UnixMilli() || st.LastIndex != 1 {
		t.Fatalf("stored state: %+v %v", st, err)
	}
	tc1.Close()
	eng1.close()
	clock.Advance(20 * time.Second) // t = 110 s: past the stale deadline (100 s), before the real one (190 s)
	eng2 := startEngine(t, dir, "")
	tc2 := newCore(t, eng2, clock, ob, nil)
	tc2.settle(t)
	if got := tc2.types(a.ChatID, 1); len(got) != 0 {
		t.Fatalf("stale deadline fired: %v", got)
	}
	tc2.advance(t, 80*time.Second-time.Millisecond)
	if got := tc2.types(a.ChatID, 1); len(got) != 0 {
		t.Fatalf("early: %v", got)
	}
	tc2.advance(t, time.Millisecond)
	if got := tc2.types(a.ChatID, 1); !slices.Equal(got, []string{"Notice:alert"}) {
		t.Fatalf("got %v", got)
	}
}

// TestIncompleteCreationRemoved: a chat whose state was stored but whose first event never
// was (the process died in between; nobody got an answer) is removed when re-read.
func TestIncompleteCreationRemoved(t *testing.T) {
	ctx := context.Background()
	eng := startEngine(t, "", "")
	st := chatState{V: stateVersion, ID: "incomplete", Service: "svc", SecureKey: "k", Customer: "U1", NextPID: 2, LastIndex: 1,
		Parts: []participant{{PID: 1, UserID: "U1", Type: Client, Nickname: "Ann"}}}
	raw, _ := json.Marshal(&st)
	if _, err := eng.store.CreateChat(ctx, st.ID, raw); err != nil {
		t.Fatal(err)
	}
	tc := newCore(t, eng, nil, nil, nil)
	<-tc.warmed
	if _, err := tc.Chat("incomplete"); !errors.Is(err, ErrChatNotFound) {
		t.Fatalf("incomplete chat still there: %v", err)
	}
	if _, err := tc.Authenticate("", "k", "", ""); !errors.Is(err, ErrBadSecureKey) {
		t.Fatalf("auth: %v", err)
	}
	if _, _, err := eng.store.LoadChat(ctx, "incomplete"); err == nil {
		t.Fatal("incomplete chat still stored")
	}
}

// TestRestartKeepsAnnouncedCheckAt: GCTI_Chat_AsyncCheckAt, once announced by an alert, is
// what the chat keeps across a restart even when async-idle-close was raised meanwhile (an
// operator restarting to apply a longer close). Before the alert's commit saved the state,
// the restarted node rebuilt the state from the transcript with the new option and moved
// CheckAt silently (no property change reached listeners or the feed), so the chat the
// workflow had been told to check at T was no longer due at T.
func TestRestartKeepsAnnouncedCheckAt(t *testing.T) {
	dir := t.TempDir()
	clock := NewManualClock(t0)
	ob := asyncOpts()
	ob.set(func(o *Options) { o.Settings.AsyncCheckAtMargin = 10 * time.Second })
	eng1 := startEngine(t, dir, "")
	tc1 := newCore(t, eng1, clock, ob, nil)
	a := mustCreate(t, tc1, asyncUD())
	if _, err := tc1.SendMessage(context.Background(), a.ChatID, a.UserID, "hello", ""); err != nil {
		t.Fatal(err)
	}
	tc1.advance(t, 100*time.Second) // the alert
	announced := tc1.rec.prop(a.ChatID, PropAsyncCheckAt)
	if want := t0.Add(100*time.Second + 50*time.Second + 10*time.Second).Unix(); announced != strconv.FormatInt(want, 10) {
		t.Fatalf("announced CheckAt %q, want %d", announced, want)
	}
	tc1.Close()
	eng1.close()

	ob.set(func(o *Options) { o.Settings.AsyncIdleClose = time.Hour })
	clock.Advance(5 * time.Second)
	eng2 := startEngine(t, dir, "")
	tc2 := newCore(t, eng2, clock, ob, nil)
	tc2.settle(t)
	v, err := tc2.Chat(a.ChatID)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Properties()[PropAsyncCheckAt]; got != announced || v.AsyncStatus != AsyncAlerted {
		t.Fatalf("after the restart CheckAt %q status %d, announced %q", got, v.AsyncStatus, announced)
	}
	// CheckAt passes before the (now longer) close: the chat is due, still live.
	tc2.advance(t, 61*time.Second)
	due := tc2.CheckDue()
	if len(due) != 1 || due[0].ID != a.ChatID || due[0].Ended {
		t.Fatalf("check-due list after CheckAt: %+v", due)
	}
}
