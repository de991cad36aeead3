package chatcore

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestVisibilityRules(t *testing.T) {
	for _, tt := range []struct {
		typ           ParticipantType
		all, int, vip bool
	}{
		{Client, true, false, false},
		{Agent, true, true, false},
		{Supervisor, true, true, true},
		{External, true, true, true},
	} {
		got := []bool{tt.typ.MayUse(VisibilityAll), tt.typ.MayUse(VisibilityInternal), tt.typ.MayUse(VisibilityVIP)}
		if want := []bool{tt.all, tt.int, tt.vip}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s may use ALL/INT/VIP: %v, want %v", tt.typ, got, want)
		}
	}
	evs := []Event{{Index: 1}, {Index: 2, Visibility: VisibilityInternal}, {Index: 3, Visibility: VisibilityVIP}, {Index: 4, Visibility: VisibilityAll}, {Index: 5, Visibility: "???"}}
	idx := func(evs []Event) []int64 {
		var out []int64
		for _, e := range evs {
			out = append(out, e.Index)
		}
		return out
	}
	for typ, want := range map[ParticipantType][]int64{Client: {1, 4}, Agent: {1, 2, 4}, External: {1, 2, 4}, Supervisor: {1, 2, 3, 4}} {
		if got := idx(VisibleEvents(evs, typ)); !slices.Equal(got, want) {
			t.Errorf("%s sees %v, want %v", typ, got, want)
		}
	}
	if got := VisibleEvents(evs[:1], Client); &got[0] != &evs[0] {
		t.Error("nothing hidden should return the slice itself")
	}
	for _, s := range []string{"", "all", "INT", "vip"} {
		if _, err := ParseVisibility(s); err != nil {
			t.Errorf("ParseVisibility(%q): %v", s, err)
		}
	}
	if _, err := ParseVisibility("PUBLIC"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseVisibility(PUBLIC): %v", err)
	}
}

// TestAgentLifecycleStatuses walks an async chat through the agent-side operations and
// checks every GCTI_Chat_AsyncStatus transition and quit reason where it happens.
func TestAgentLifecycleStatuses(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, asyncOpts(), nil)
	cr := mustCreate(t, tc, map[string]string{PropAsyncMode: "true"})
	id := cr.ChatID
	status := func(want int) {
		t.Helper()
		v, err := tc.Chat(id)
		if err != nil || v.AsyncStatus != want {
			t.Fatalf("status %d (%v), want %d", v.AsyncStatus, err, want)
		}
	}
	status(AsyncCreated)
	ann, _, err := tc.Join(ctx, id, JoinRequest{Type: Agent, Nickname: "Ann", UserID: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	status(AsyncProcessing)

	// Release to a queue: Ann leaves (reason 0), status 5.
	if _, err := tc.ReleaseToQueue(ctx, id, ann.UserID); err != nil {
		t.Fatal(err)
	}
	status(AsyncQueued)
	if last, _ := tc.rec.lastEvent(id); last.Type != EventParticipantLeft || last.From.UserID != "ann" || last.UserData[KeyQuitReason] != "0" {
		t.Fatalf("release: last event %+v", last)
	}
	tc.settle(t)
	if p := tc.rec.prop(id, PropAsyncStatus); p != "5" {
		t.Fatalf("listeners saw status %q, want 5", p)
	}
	// The customer writes while nobody is there: 2.
	if _, err := tc.SendMessage(ctx, id, cr.UserID, "anyone?", ""); err != nil {
		t.Fatal(err)
	}
	status(AsyncCustomer)
	// Ann comes back (re-join keeps her participant id): -1.
	again, _, err := tc.Join(ctx, id, JoinRequest{Type: Agent, Nickname: "Ann", UserID: "ann"})
	if err != nil || again.ParticipantID != ann.ParticipantID {
		t.Fatalf("re-join: %+v %v", again, err)
	}
	status(AsyncProcessing)

	// Transfer to Bob in one commit: Bob joins, then Ann leaves; status stays -1.
	before := len(tc.rec.eventsOf(id))
	bob, res, err := tc.Transfer(ctx, id, "ann", JoinRequest{Type: Agent, Nickname: "Bob", UserID: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 2 || res.Events[0].Type != EventParticipantJoined || res.Events[0].From.UserID != "bob" ||
		res.Events[1].Type != EventParticipantLeft || res.Events[1].From.UserID != "ann" || res.Events[1].Index != res.Events[0].Index+1 {
		t.Fatalf("transfer events: %+v", res.Events)
	}
	tc.rec.waitFor(t, "transfer events", func() bool { return len(tc.rec.eventsOf(id)) == before+2 })
	status(AsyncProcessing)
	if p, _ := res.Chat.Participant("bob"); !p.Present || p.ParticipantID != bob.ParticipantID {
		t.Fatalf("bob after transfer: %+v", p)
	}

	// Bob's desktop is lost: reason 3, status 4.
	if _, err := tc.AgentLost(ctx, id, "bob"); err != nil {
		t.Fatal(err)
	}
	status(AsyncAgentLost)
	if last, _ := tc.rec.lastEvent(id); last.From.UserID != "bob" || last.UserData[KeyQuitReason] != "3" {
		t.Fatalf("agent lost: last event %+v", last)
	}

	// Hold by an agent: -2 (existing Hold), then the customer's message: 2.
	if _, _, err := tc.Join(ctx, id, JoinRequest{Type: Agent, Nickname: "Bob", UserID: "bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Hold(ctx, id, "bob"); err != nil {
		t.Fatal(err)
	}
	status(AsyncOnHold)
	if _, err := tc.SendMessage(ctx, id, cr.UserID, "back again", ""); err != nil {
		t.Fatal(err)
	}
	status(AsyncCustomer)

	// Annotate works on an ended chat too (disposition after the end).
	if _, err := tc.EndChat(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	res, err = tc.Annotate(ctx, id, map[string]string{"Disposition": "solved"})
	if err != nil || res.Chat.UserData["Disposition"] != "solved" || res.Chat.UserData[PropAsyncMode] != "true" {
		t.Fatalf("annotate: %v %v", res.Chat.UserData, err)
	}
}

// TestAgentOpsRefusalsChangeNothing: every refused agent-side operation leaves the chat as
// it was.
func TestAgentOpsRefusalsChangeNothing(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, asyncOpts(), nil)
	cr := mustCreate(t, tc, map[string]string{PropAsyncMode: "true"})
	id := cr.ChatID
	if _, _, err := tc.Join(ctx, id, JoinRequest{Type: Agent, Nickname: "Ann", UserID: "ann"}); err != nil {
		t.Fatal(err)
	}
	tc.settle(t)
	for name, do := range map[string]func() error{
		"agent sends VIP": func() error {
			_, err := tc.SendVisible(ctx, id, "ann", "psst", "", VisibilityVIP)
			return err
		},
		"customer sends INT": func() error {
			_, err := tc.SendVisible(ctx, id, cr.UserID, "psst", "", VisibilityInternal)
			return err
		},
		"unknown visibility": func() error {
			_, err := tc.SendVisible(ctx, id, "ann", "psst", "", "SECRET")
			return err
		},
		"agent joins VIP": func() error {
			_, _, err := tc.Join(ctx, id, JoinRequest{Type: Agent, Nickname: "Eve", UserID: "eve", Visibility: VisibilityVIP})
			return err
		},
		"release by a stranger": func() error { _, err := tc.ReleaseToQueue(ctx, id, "nobody"); return err },
		"release by the customer": func() error {
			_, err := tc.ReleaseToQueue(ctx, id, cr.UserID)
			return err
		},
		"transfer to oneself": func() error {
			_, _, err := tc.Transfer(ctx, id, "ann", JoinRequest{Type: Agent, Nickname: "Ann", UserID: "ann"})
			return err
		},
		"transfer to someone present": func() error {
			_, _, err := tc.Transfer(ctx, id, "ann", JoinRequest{Type: Agent, Nickname: "Cust", UserID: cr.UserID})
			return err
		},
		"transfer by a stranger": func() error {
			_, _, err := tc.Transfer(ctx, id, "nobody", JoinRequest{Type: Agent, Nickname: "Bob", UserID: "bob"})
			return err
		},
		"agent lost who is not there": func() error { _, err := tc.AgentLost(ctx, id, "bob"); return err },
		"leave VIP as an agent": func() error {
			_, err := tc.LeaveWith(ctx, id, "ann", QuitLogout, VisibilityVIP)
			return err
		},
		"annotate nothing":        func() error { _, err := tc.Annotate(ctx, id, nil); return err },
		"annotate an empty key":   func() error { _, err := tc.Annotate(ctx, id, map[string]string{"": "x"}); return err },
		"annotate unknown chat":   func() error { _, err := tc.Annotate(ctx, "nope", map[string]string{"a": "b"}); return err },
		"release of unknown chat": func() error { _, err := tc.ReleaseToQueue(ctx, "nope", "ann"); return err },
	} {
		t.Run(name, func(t *testing.T) {
			if err := unchanged(t, tc, id, do); err == nil {
				t.Fatal("not refused")
			}
		})
	}
}

// TestCoachingAndBotsAreNotActivity: INT and VIP messages and a bot's messages do not re-arm
// async-idle-alert and never set status 2; an ALL message of the agent does.
func TestCoachingAndBotsAreNotActivity(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, asyncOpts(), nil) // async-idle-alert 100 s
	cr := mustCreate(t, tc, map[string]string{PropAsyncMode: "true"})
	id := cr.ChatID
	if _, err := tc.Hold(ctx, id, ""); err != nil { // dormant, no agent: status -2
		t.Fatal(err)
	}
	if _, _, err := tc.Join(ctx, id, JoinRequest{Type: External, Nickname: "Helper bot", UserID: "bot"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tc.Join(ctx, id, JoinRequest{Type: Supervisor, Nickname: "Sue", UserID: "sue", Visibility: VisibilityVIP}); err != nil {
		t.Fatal(err)
	}
	tc.advance(t, 60*time.Second)
	if _, err := tc.SendMessage(ctx, id, "bot", "I am a bot", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.SendVisible(ctx, id, "sue", "watching", "", VisibilityVIP); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.SendVisible(ctx, id, "bot", "note for agents", "", VisibilityInternal); err != nil {
		t.Fatal(err)
	}
	if v, _ := tc.Chat(id); v.AsyncStatus != AsyncOnHold {
		t.Fatalf("status %d after bot/VIP messages, want -2", v.AsyncStatus)
	}
	// 100 s after the hold (the last activity) the alert fires despite the messages at 60 s.
	tc.advance(t, 40*time.Second)
	if got := tc.types(id, 1); !slices.Contains(got, "Notice:alert") {
		t.Fatalf("no alert at 100 s: %v", got)
	}
	if v, _ := tc.Chat(id); v.AsyncStatus != AsyncAlerted {
		t.Fatalf("status %d, want 3", v.AsyncStatus)
	}
	// The customer's message is activity: status 2 (no agent present; the bot and the
	// supervisor are not agents).
	if _, err := tc.SendMessage(ctx, id, cr.UserID, "hello?", ""); err != nil {
		t.Fatal(err)
	}
	if v, _ := tc.Chat(id); v.AsyncStatus != AsyncCustomer {
		t.Fatalf("status %d, want 2", v.AsyncStatus)
	}
}
