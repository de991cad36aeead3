package chatcore

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// lostAckStore is the real store with faults injected around it: the next append is stored
// but its acknowledgement is lost, or it is not stored at all; either way the caller sees
// ErrUnavailable, as when a publish times out.
type lostAckStore struct {
	Store
	loseAck, drop  atomic.Bool
	lastIndexFails atomic.Int32
}

func (s *lostAckStore) AppendJSON(ctx context.Context, id string, after int64, evs [][]byte) error {
	if s.drop.CompareAndSwap(true, false) {
		return errors.New("jetstore: store unavailable: publish timed out (injected, not stored)")
	}
	err := s.Store.AppendJSON(ctx, id, after, evs)
	if err == nil && s.loseAck.CompareAndSwap(true, false) {
		return errors.New("jetstore: store unavailable: ack lost (injected)")
	}
	return err
}

func (s *lostAckStore) LastIndex(ctx context.Context, id string) (int64, error) {
	if s.lastIndexFails.Add(-1) >= 0 {
		return 0, errors.New("jetstore: store unavailable (injected)")
	}
	return s.Store.LastIndex(ctx, id)
}

// TestUnknownOutcome: an append without acknowledgement is settled by re-reading the
// transcript. Stored → the operation succeeds and its event is delivered once; not stored →
// ErrUnavailable and nothing delivered; unknowable (the store still does not answer) →
// ErrUnavailable, and the event, which was stored, is delivered once after the re-read that
// precedes the next operation.
func TestUnknownOutcome(t *testing.T) {
	ctx := context.Background()
	eng := startEngine(t, "", "")
	ls := &lostAckStore{Store: eng.store}
	rec := newRecorder()
	co, err := New(ctx, Config{Store: ls, Clock: NewManualClock(t0), Listeners: []Listener{rec}})
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	cr, err := co.CreateChat(ctx, CreateRequest{Service: "svc", Nickname: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	ls.loseAck.Store(true)
	res, err := co.SendMessage(ctx, cr.ChatID, cr.UserID, "stored, ack lost", "")
	if err != nil || res.Events[0].Index != 2 {
		t.Fatalf("lost ack not settled: %+v %v", res, err)
	}
	ls.drop.Store(true)
	if _, err := co.SendMessage(ctx, cr.ChatID, cr.UserID, "not stored", ""); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("dropped append: %v", err)
	}
	if _, err := co.Chat(cr.ChatID); err != nil { // re-read after the failure
		t.Fatal(err)
	}
	ls.loseAck.Store(true)
	ls.lastIndexFails.Store(3)
	if _, err := co.SendMessage(ctx, cr.ChatID, cr.UserID, "stored, unknowable", ""); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unknowable outcome: %v", err)
	}
	res, err = co.SendMessage(ctx, cr.ChatID, cr.UserID, "next", "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Events[0].Index != 4 {
		t.Fatalf("index after unknown outcomes: %d", res.Events[0].Index)
	}
	rec.waitFor(t, "4 events", func() bool { return len(rec.eventsOf(cr.ChatID)) >= 4 })
	var texts []string
	for i, ev := range rec.eventsOf(cr.ChatID) {
		if ev.Index != int64(i+1) {
			t.Fatalf("order: %d at %d", ev.Index, i)
		}
		texts = append(texts, ev.Text)
	}
	if want := []string{"", "stored, ack lost", "stored, unknowable", "next"}; !slices.Equal(texts, want) {
		t.Fatalf("delivered %q, want %q", texts, want)
	}
}

func TestParticipantsLeaveRejoinRename(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, nil, nil)
	cr := mustCreate(t, tc, nil)
	ag, _, err := tc.Join(ctx, cr.ChatID, JoinRequest{Type: Agent, Nickname: "Bob", UserID: "agent-1"})
	if err != nil {
		t.Fatal(err)
	}
	sup, _, err := tc.Join(ctx, cr.ChatID, JoinRequest{Type: Supervisor, Nickname: "Sue"})
	if err != nil || sup.ParticipantID != 3 {
		t.Fatalf("supervisor %+v %v", sup, err)
	}
	res, err := tc.Leave(ctx, cr.ChatID, ag.UserID, QuitLogout)
	if err != nil || res.Chat.Ended || res.Events[0].UserData[KeyQuitReason] != "0" {
		t.Fatalf("agent leave: %+v %v", res, err)
	}
	if _, err := tc.SendMessage(ctx, cr.ChatID, ag.UserID, "gone", ""); !errors.Is(err, ErrNotParticipant) {
		t.Fatalf("message after leaving: %v", err)
	}
	again, _, err := tc.Join(ctx, cr.ChatID, JoinRequest{Type: Agent, Nickname: "Bob", UserID: "agent-1"})
	if err != nil || again.ParticipantID != ag.ParticipantID {
		t.Fatalf("re-join %+v %v", again, err)
	}
	res, err = tc.UpdateNickname(ctx, cr.ChatID, cr.UserID, "Ann B.")
	if err != nil {
		t.Fatal(err)
	}
	if ev := res.Events[0]; ev.Text != "Ann B." || ev.From.Nickname != "Ann" {
		t.Fatalf("rename event %+v", ev)
	}
	if p, _ := res.Chat.Participant(cr.UserID); p.Nickname != "Ann B." {
		t.Fatalf("participant %+v", p)
	}
	// A removed listener gets nothing more.
	n := 0
	remove := tc.AddListener(ListenerFuncs{Event: func(ChatView, Event) { n++ }})
	if _, err := tc.StopTyping(ctx, cr.ChatID, cr.UserID, ""); err != nil {
		t.Fatal(err)
	}
	remove()
	if _, err := tc.CustomNotice(ctx, cr.ChatID, cr.UserID, "x"); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("removed listener saw %d events", n)
	}
	// EndChat by the workflow: everyone leaves with reason 5.
	res, err = tc.EndChat(ctx, cr.ChatID, "")
	if err != nil || !res.Chat.Ended || len(res.Events) != 3 {
		t.Fatalf("end: %+v %v", res, err)
	}
	for _, ev := range res.Events {
		if ev.UserData[KeyQuitReason] != "5" {
			t.Fatalf("end reason %+v", ev)
		}
	}
	if last := res.Events[2]; last.From.UserID != cr.UserID {
		t.Fatal("customer does not leave last")
	}
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, nil, nil)
	cr := mustCreate(t, tc, nil)
	if _, err := tc.UploadFile(ctx, cr.ChatID, cr.UserID, Upload{Name: "a.txt", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := tc.Purge(ctx, cr.ChatID); !errors.Is(err, ErrInvalid) {
		t.Fatalf("purge of a live chat: %v", err)
	}
	if _, err := tc.Disconnect(ctx, cr.ChatID, cr.UserID); err != nil {
		t.Fatal(err)
	}
	if err := tc.Purge(ctx, cr.ChatID); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Chat(cr.ChatID); !errors.Is(err, ErrChatNotFound) {
		t.Fatalf("purged chat: %v", err)
	}
	if _, err := tc.Authenticate("", cr.SecureKey, "", ""); !errors.Is(err, ErrBadSecureKey) {
		t.Fatalf("purged chat auth: %v", err)
	}
	if n, err := tc.eng.store.LastIndex(ctx, cr.ChatID); err != nil || n != 0 {
		t.Fatalf("transcript left: %d %v", n, err)
	}
	if _, _, err := tc.eng.store.LoadChat(ctx, cr.ChatID); err == nil {
		t.Fatal("state left")
	}
}

// TestDeferTimersAndCreationProperties: with DeferTimers nothing fires until StartTimers;
// the creation announces every maintained property.
func TestDeferTimersAndCreationProperties(t *testing.T) {
	ctx := context.Background()
	eng := startEngine(t, "", "")
	clock := NewManualClock(t0)
	rec := newRecorder()
	co, err := New(ctx, Config{Store: eng.store, Clock: clock, NodeName: "n1", DeferTimers: true, Listeners: []Listener{rec}})
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	cr, err := co.CreateChat(ctx, CreateRequest{Service: "svc", Nickname: "Ann", UserData: map[string]string{PropAsyncMode: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	props := rec.props[cr.ChatID]
	rec.mu.Unlock()
	if len(props) != 1 || props[0][PropAsyncStatus] != "1" || props[0][PropIsOnline] != "true" || props[0][PropChatServerAppName] != "n1" {
		t.Fatalf("creation properties %v", props)
	}
	clock.Advance(46 * time.Second) // past flex-disconnect-timeout
	if v, _ := co.Chat(cr.ChatID); v.Ended {
		t.Fatal("timer fired before StartTimers")
	}
	co.StartTimers()
	rec.waitFor(t, "removal", func() bool {
		ev, ok := rec.lastEvent(cr.ChatID)
		return ok && ev.Type == EventParticipantLeft
	})
	// A commit's property change is delivered right after its events: wait for it too.
	rec.waitFor(t, "IsOnline false", func() bool { return rec.prop(cr.ChatID, PropIsOnline) == "false" })
}

// TestClosedCore: after Close every entry point answers ErrClosed.
func TestClosedCore(t *testing.T) {
	ctx := context.Background()
	tc := newCore(t, nil, nil, nil, nil)
	cr := mustCreate(t, tc, nil)
	tc.Close()
	tc.Close() // idempotent
	if _, err := tc.SendMessage(ctx, cr.ChatID, cr.UserID, "x", ""); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if _, err := tc.CreateChat(ctx, CreateRequest{Service: "s", Nickname: "a"}); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if _, err := tc.Authenticate("", cr.SecureKey, "", ""); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}
