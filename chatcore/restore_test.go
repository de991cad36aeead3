package chatcore

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

// restoreOpts are asyncOpts with session-restore-extend-by set.
func restoreOpts(extendBy string) *optBox {
	ob := asyncOpts()
	ob.o.Settings.SessionRestoreExtendBy = extendBy
	return ob
}

// unchanged checks that a refused operation left the chat as it was: view, store index,
// stored state revision, recorded events and property changes.
func unchanged(t *testing.T, tc *testCore, id string, do func() error) error {
	t.Helper()
	ctx := context.Background()
	v0, _ := tc.Chat(id)
	_, rev0, _ := tc.eng.store.LoadChat(ctx, id)
	last0, _ := tc.eng.store.LastIndex(ctx, id)
	tc.rec.mu.Lock()
	ne0, np0 := len(tc.rec.events[id]), len(tc.rec.props[id])
	tc.rec.mu.Unlock()
	err := do()
	tc.settle(t)
	v1, _ := tc.Chat(id)
	_, rev1, _ := tc.eng.store.LoadChat(ctx, id)
	last1, _ := tc.eng.store.LastIndex(ctx, id)
	tc.rec.mu.Lock()
	ne1, np1 := len(tc.rec.events[id]), len(tc.rec.props[id])
	tc.rec.mu.Unlock()
	if !reflect.DeepEqual(v0, v1) || rev0 != rev1 || last0 != last1 || ne0 != ne1 || np0 != np1 {
		t.Fatalf("refused operation changed the chat: view %v→%v rev %d→%d last %d→%d events %d→%d props %d→%d",
			v0.Restored, v1.Restored, rev0, rev1, last0, last1, ne0, ne1, np0, np1)
	}
	return err
}

// TestRestoreExtendBy: session-restore-extend-by decides who may restore; a refusal changes
// nothing.
func TestRestoreExtendBy(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		extendBy   string
		agent, esp bool
	}{
		{extendBy: "none"},
		{extendBy: "agent", agent: true},
		{extendBy: "esp", esp: true},
		{extendBy: "both", agent: true, esp: true},
	} {
		t.Run(tt.extendBy, func(t *testing.T) {
			tc := newCore(t, nil, nil, restoreOpts(tt.extendBy), nil)
			for _, c := range []struct {
				by RestoreBy
				ok bool
			}{{RestoreByAgent, tt.agent}, {RestoreByWorkflow, tt.esp}} {
				cr := mustCreate(t, tc, asyncUD())
				if !c.ok {
					err := unchanged(t, tc, cr.ChatID, func() error {
						_, err := tc.Restore(ctx, cr.ChatID, c.by)
						return err
					})
					if !errors.Is(err, ErrRestoreNotAllowed) {
						t.Fatalf("restore by %s: %v, want ErrRestoreNotAllowed", c.by, err)
					}
					continue
				}
				res, err := tc.Restore(ctx, cr.ChatID, c.by)
				if err != nil {
					t.Fatalf("restore by %s: %v", c.by, err)
				}
				if !res.Chat.Restored || res.Chat.RestoredBy != c.by || !res.Chat.RestoredAt.Equal(tc.clock.Now()) || len(res.Events) != 0 {
					t.Fatalf("restore by %s: %+v", c.by, res)
				}
			}
		})
	}
	// The default is none.
	if DefaultOptions().Settings.SessionRestoreExtendBy != "none" {
		t.Fatal("default session-restore-extend-by is not none")
	}
}

// TestRestoreRefused: unknown chat, ended chat, regular chat, unknown party; each refused
// with its error and without effect.
func TestRestoreRefused(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, restoreOpts("both"), nil)
	if _, err := tc.Restore(ctx, "nosuchchat000000", RestoreByWorkflow); !errors.Is(err, ErrChatNotFound) {
		t.Fatalf("unknown chat: %v", err)
	}
	ended := mustCreate(t, tc, asyncUD())
	if _, err := tc.Disconnect(ctx, ended.ChatID, ended.UserID); err != nil {
		t.Fatal(err)
	}
	regular := mustCreate(t, tc, nil)
	live := mustCreate(t, tc, asyncUD())
	for _, c := range []struct {
		name string
		id   string
		by   RestoreBy
		want error
	}{
		{"ended chat", ended.ChatID, RestoreByWorkflow, ErrChatEnded},
		{"ended chat by agent", ended.ChatID, RestoreByAgent, ErrChatEnded},
		{"regular chat", regular.ChatID, RestoreByWorkflow, ErrInvalid},
		{"unknown party", live.ChatID, RestoreBy("customer"), ErrInvalid},
		{"empty party", live.ChatID, "", ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := unchanged(t, tc, c.id, func() error {
				_, err := tc.Restore(ctx, c.id, c.by)
				return err
			})
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	tc.Close()
	if _, err := tc.Restore(ctx, live.ChatID, RestoreByWorkflow); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed core: %v", err)
	}
	if got := tc.CheckDue(); got != nil {
		t.Fatalf("closed core check-due list: %v", got)
	}
}

// TestRestoreEffects: status, CheckAt and idle timers after a restoration, per situation.
func TestRestoreEffects(t *testing.T) {
	ctx := context.Background()
	const alert, idleClose, margin = 100 * time.Second, 50 * time.Second, 60 * time.Second
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, tc *testCore, cr Created)
		by    RestoreBy
		// want status after the restoration
		want int
	}{
		{"new chat by workflow", func(*testing.T, *testCore, Created) {}, RestoreByWorkflow, AsyncCreated},
		{"new chat by agent", func(*testing.T, *testCore, Created) {}, RestoreByAgent, AsyncProcessing},
		{"customer waiting by workflow", func(t *testing.T, tc *testCore, cr Created) {
			if _, err := tc.SendMessage(ctx, cr.ChatID, cr.UserID, "hello?", ""); err != nil {
				t.Fatal(err)
			}
		}, RestoreByWorkflow, AsyncCustomer},
		{"alerted by workflow", func(t *testing.T, tc *testCore, cr Created) {
			tc.advance(t, alert)
		}, RestoreByWorkflow, AsyncOnHold},
		{"alerted with agent by workflow", func(t *testing.T, tc *testCore, cr Created) {
			if _, _, err := tc.Join(ctx, cr.ChatID, JoinRequest{Type: Agent, Nickname: "Bob"}); err != nil {
				t.Fatal(err)
			}
			tc.advance(t, alert)
		}, RestoreByWorkflow, AsyncProcessing},
		{"alerted by agent", func(t *testing.T, tc *testCore, cr Created) {
			tc.advance(t, alert)
		}, RestoreByAgent, AsyncProcessing},
		{"on hold by workflow", func(t *testing.T, tc *testCore, cr Created) {
			if _, err := tc.Hold(ctx, cr.ChatID, ""); err != nil {
				t.Fatal(err)
			}
		}, RestoreByWorkflow, AsyncOnHold},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := newCore(t, nil, nil, restoreOpts("both"), nil)
			cr := mustCreate(t, tc, asyncUD())
			id := cr.ChatID
			tt.setup(t, tc, cr)
			tc.advance(t, 10*time.Second) // inside async-idle-close for the alerted ones
			n0 := len(tc.rec.eventsOf(id))
			at := tc.clock.Now()
			res, err := tc.Restore(ctx, id, tt.by)
			if err != nil {
				t.Fatal(err)
			}
			tc.settle(t)
			wantCheck := at.Add(alert + idleClose + margin).Unix()
			if res.Chat.AsyncStatus != tt.want || res.Chat.CheckAt != wantCheck {
				t.Fatalf("status %d checkAt %d, want %d %d", res.Chat.AsyncStatus, res.Chat.CheckAt, tt.want, wantCheck)
			}
			// A property change, no transcript event.
			if got := tc.rec.prop(id, PropAsyncCheckAt); got != strconv.FormatInt(wantCheck, 10) {
				t.Fatalf("CheckAt property %q", got)
			}
			if got := tc.rec.prop(id, PropAsyncStatus); got != strconv.Itoa(tt.want) {
				t.Fatalf("status property %q, want %d", got, tt.want)
			}
			if n := len(tc.rec.eventsOf(id)); n != n0 {
				t.Fatalf("restore committed %d events", n-n0)
			}
			// The idle timers run from the restoration: nothing before alert (a pending
			// close is cancelled), then the alert, then the close.
			tc.advance(t, alert-time.Millisecond)
			if got := tc.types(id, int64(n0+1)); len(got) != 0 {
				t.Fatalf("before the re-armed alert: %v", got)
			}
			tc.advance(t, time.Millisecond)
			tc.advance(t, idleClose)
			if got := tc.types(id, int64(n0+1)); !slices.Contains(got, "Notice:alert") || !slices.Contains(got, "Notice:close") {
				t.Fatalf("after the re-armed timers: %v", got)
			}
			if v, _ := tc.Chat(id); !v.Ended || !v.Restored {
				t.Fatalf("ended %v restored %v", v.Ended, v.Restored)
			}
		})
	}
}

// TestRestoreFlexRule: after a restoration a push-enabled customer's protocol inactivity
// follows flex-push-timeout only with session-restore-push-send=true, otherwise
// flex-disconnect-timeout, counted from the restoration.
func TestRestoreFlexRule(t *testing.T) {
	ctx := context.Background()
	const disc, push = 45 * time.Second, 300 * time.Second
	for _, pushSend := range []bool{false, true} {
		t.Run("push-send="+strconv.FormatBool(pushSend), func(t *testing.T) {
			ob := restoreOpts("esp")
			ob.o.Settings.AsyncIdleAlert = 100000 * time.Second
			ob.o.Settings.FlexDisconnectTimeout = disc
			ob.o.Settings.FlexPushTimeout = push
			ob.o.Settings.SessionRestorePushSend = pushSend
			tc := newCore(t, nil, nil, ob, nil)
			cr := mustCreate(t, tc, asyncUD()) // push-enabled
			tc.advance(t, 200*time.Second)     // a push customer is not removed after 45 s
			if v, _ := tc.Chat(cr.ChatID); !v.CustomerPresent {
				t.Fatal("push customer removed before flex-push-timeout")
			}
			if _, err := tc.Restore(ctx, cr.ChatID, RestoreByWorkflow); err != nil {
				t.Fatal(err)
			}
			tc.advance(t, disc-time.Millisecond)
			if v, _ := tc.Chat(cr.ChatID); !v.CustomerPresent {
				t.Fatal("customer removed before flex-disconnect-timeout from the restoration")
			}
			tc.advance(t, time.Millisecond)
			v, _ := tc.Chat(cr.ChatID)
			if pushSend == v.Ended {
				t.Fatalf("push-send=%v: ended=%v after flex-disconnect-timeout", pushSend, v.Ended)
			}
			if !pushSend {
				if got := tc.types(cr.ChatID, 2); !slices.Equal(got, []string{"ParticipantLeft:3"}) {
					t.Fatalf("removal: %v", got)
				}
				return
			}
			// With push-send: checked at flex-push-timeout (no checker: not confirmed),
			// removed one flex-push-timeout later.
			tc.advance(t, push-disc)
			tc.advance(t, push-time.Millisecond)
			if v, _ := tc.Chat(cr.ChatID); v.Ended {
				t.Fatal("removed before the second flex-push-timeout")
			}
			tc.advance(t, time.Millisecond)
			if v, _ := tc.Chat(cr.ChatID); !v.Ended {
				t.Fatal("not removed after the liveness re-arm")
			}
		})
	}
}

// TestRestoreSurvivesRestart: the restoration is in the stored state: after a restart the
// chat is still restored and the flex rule still follows session-restore-push-send.
func TestRestoreSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := NewManualClock(t0)
	ob := restoreOpts("esp")
	ob.o.Settings.FlexDisconnectTimeout = 45 * time.Second
	ob.o.Settings.FlexPushTimeout = 300 * time.Second
	eng1 := startEngine(t, dir, "")
	tc1 := newCore(t, eng1, clock, ob, nil)
	cr := mustCreate(t, tc1, asyncUD())
	tc1.advance(t, 10*time.Second)
	res, err := tc1.Restore(ctx, cr.ChatID, RestoreByWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	// Later events: the state document is not rewritten for them.
	if _, err := tc1.SendMessage(ctx, cr.ChatID, cr.UserID, "after the restoration", ""); err != nil {
		t.Fatal(err)
	}
	tc1.Close()
	eng1.close()

	clock.Advance(5 * time.Second)
	eng2 := startEngine(t, dir, "")
	tc2 := newCore(t, eng2, clock, ob, nil)
	tc2.settle(t)
	v, err := tc2.Chat(cr.ChatID)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Restored || v.RestoredBy != RestoreByWorkflow || !v.RestoredAt.Equal(res.Chat.RestoredAt) || v.CheckAt != res.Chat.CheckAt || v.LastIndex != 2 {
		t.Fatalf("after restart: restored=%v by=%q at=%v checkAt=%d last=%d", v.Restored, v.RestoredBy, v.RestoredAt, v.CheckAt, v.LastIndex)
	}
	// push-send is false: the restored push customer gets flex-disconnect-timeout (from
	// the start, decision 6).
	tc2.advance(t, 45*time.Second)
	if v, _ := tc2.Chat(cr.ChatID); !v.Ended {
		t.Fatal("restored customer kept flex-push-timeout after a restart")
	}
}

// TestCheckDue: the list of live async chats whose GCTI_Chat_AsyncCheckAt has passed.
func TestCheckDue(t *testing.T) {
	ctx := context.Background()
	ob := restoreOpts("esp")
	ob.o.Settings.AsyncCheckAtMargin = 0
	tc := newCore(t, nil, nil, ob, nil)
	active := mustCreate(t, tc, asyncUD()) // alerted, then active: CheckAt moves with activity
	stuck := mustCreate(t, tc, asyncUD())  // alerted, never closed: due at CheckAt
	restored := mustCreate(t, tc, asyncUD())
	quiet := mustCreate(t, tc, asyncUD()) // active before its alert: CheckAt not reached
	mustCreate(t, tc, nil)                // regular
	if got := tc.CheckDue(); len(got) != 0 {
		t.Fatalf("fresh chats due: %v", got)
	}
	tc.advance(t, 50*time.Second)
	if _, err := tc.SendMessage(ctx, quiet.ChatID, quiet.UserID, "early", ""); err != nil {
		t.Fatal(err)
	}
	tc.advance(t, 50*time.Second) // t = 100 s: alerts, CheckAt = 150 s
	if v := tc.mustView(t, active.ChatID); v.CheckAt != t0.Add(150*time.Second).Unix() {
		t.Fatalf("CheckAt after the alert %d", v.CheckAt)
	}
	tc.advance(t, 10*time.Second)
	if _, err := tc.SendMessage(ctx, active.ChatID, active.UserID, "here", ""); err != nil {
		t.Fatal(err)
	}
	// Activity after the alert moves CheckAt to activity + alert + close + margin.
	if v := tc.mustView(t, active.ChatID); v.CheckAt != t0.Add(260*time.Second).Unix() {
		t.Fatalf("CheckAt after activity %d, want %d", v.CheckAt, t0.Add(260*time.Second).Unix())
	}
	if p := tc.rec.prop(active.ChatID, PropAsyncCheckAt); p != strconv.FormatInt(t0.Add(260*time.Second).Unix(), 10) {
		t.Fatalf("listeners saw CheckAt %q", p)
	}
	// The node restarts with its timers held: nothing closes the alerted chats, which
	// outlive their CheckAt (what the list is for).
	tc.Close()
	tc = newCoreWith(t, tc.eng, tc.clock, ob, nil, func(c *Config) { c.DeferTimers = true })
	tc.clock.Advance(40 * time.Second) // t = 150 s
	ids := func() []string {
		var out []string
		for _, v := range tc.CheckDue() {
			out = append(out, v.ID)
		}
		return out
	}
	want := []string{stuck.ChatID, restored.ChatID}
	slices.Sort(want)
	if got := ids(); !slices.Equal(got, want) {
		t.Fatalf("due %v, want %v (active %s, quiet %s)", got, want, active.ChatID, quiet.ChatID)
	}
	if _, err := tc.Restore(ctx, restored.ChatID, RestoreByWorkflow); err != nil {
		t.Fatal(err)
	}
	if got := ids(); !slices.Equal(got, []string{stuck.ChatID}) {
		t.Fatalf("due after the restoration %v", got)
	}
}
