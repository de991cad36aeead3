package chatcore

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"
)

// changeRecorder is a ChangeListener and PurgeListener that keeps what it receives.
type changeRecorder struct {
	mu      sync.Mutex
	props   int // OnProperties calls: must stay 0 for a ChangeListener
	changes []Change
	purged  []ChatView
	at      []time.Time
}

func (r *changeRecorder) OnEvent(ChatView, Event) {}
func (r *changeRecorder) OnProperties(ChatView, map[string]string) {
	r.mu.Lock()
	r.props++
	r.mu.Unlock()
}
func (r *changeRecorder) OnChange(_ ChatView, ch Change) {
	r.mu.Lock()
	r.changes = append(r.changes, ch)
	r.mu.Unlock()
}
func (r *changeRecorder) OnPurged(v ChatView, at time.Time) {
	r.mu.Lock()
	r.purged, r.at = append(r.purged, v), append(r.at, at)
	r.mu.Unlock()
}

func (r *changeRecorder) take() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.changes
	r.changes = nil
	return out
}

func set(v string) ValueChange { return ValueChange{New: v, NewSet: true} }
func moved(old, v string) ValueChange {
	return ValueChange{Old: old, OldSet: true, New: v, NewSet: true}
}
func ud(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestChangeListener: a ChangeListener gets, per commit and in order, the old and new values
// of the properties and of the userData — the creation's first values, a userData update by
// the customer and an annotation (neither adds an event), the customer's message with no
// agent (status 1 → 2), an agent's join (2 → -1),
// the end (IsOnline true → false) — and never OnProperties; an annotation that changes
// nothing reports nothing; a purge is reported once with the chat as it was.
func TestChangeListener(t *testing.T) {
	ctx := context.Background()
	cr := &changeRecorder{}
	tc := newCoreWith(t, nil, nil, asyncOpts(), nil, func(c *Config) { c.Listeners = append(c.Listeners, cr) })
	c := mustCreate(t, tc, asyncUD())
	id := c.ChatID
	async := asyncUD()
	want := []Change{{
		Properties: map[string]ValueChange{PropAsyncStatus: set("1"), PropIsOnline: set("true"), PropChatServerAppName: set("node-1")},
		UserData:   map[string]ValueChange{},
	}}
	for k, v := range async {
		want[0].UserData[k] = set(v)
	}
	if got := cr.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("creation: %+v\nwant %+v", got, want)
	}
	if _, err := tc.UpdateUserData(ctx, id, c.UserID, ud("order", "42")); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Annotate(ctx, id, ud("order", "43", "segment", "gold")); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Annotate(ctx, id, ud("segment", "gold")); err != nil { // the same value: no change
		t.Fatal(err)
	}
	if _, err := tc.SendMessage(ctx, id, c.UserID, "hello", ""); err != nil { // no agent: status 2
		t.Fatal(err)
	}
	if _, _, err := tc.Join(ctx, id, JoinRequest{Type: Agent, Nickname: "Bob", UserID: "a1"}); err != nil {
		t.Fatal(err)
	}
	want = []Change{
		{UserData: map[string]ValueChange{"order": set("42")}},
		{UserData: map[string]ValueChange{"order": moved("42", "43"), "segment": set("gold")}},
		{Properties: map[string]ValueChange{PropAsyncStatus: moved("1", "2")}},
		{Properties: map[string]ValueChange{PropAsyncStatus: moved("2", "-1")}},
	}
	if got := cr.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("changes: %+v\nwant %+v", got, want)
	}
	if _, err := tc.EndChat(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	got := cr.take()
	if len(got) != 1 || got[0].Properties[PropIsOnline] != moved("true", "false") || got[0].UserData != nil {
		t.Fatalf("end: %+v", got)
	}
	tc.clock.Advance(time.Minute)
	if err := tc.Purge(ctx, id); err != nil {
		t.Fatal(err)
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.props != 0 {
		t.Fatalf("a ChangeListener got %d OnProperties calls", cr.props)
	}
	if len(cr.purged) != 1 || cr.purged[0].ID != id || !cr.purged[0].Ended || cr.purged[0].EndedAt.IsZero() || !cr.at[0].Equal(t0.Add(time.Minute)) {
		t.Fatalf("purged %+v at %v", cr.purged, cr.at)
	}
	// A plain Listener still gets the new values through OnProperties.
	tc.rec.mu.Lock()
	n := len(tc.rec.props[id])
	tc.rec.mu.Unlock()
	if n != 4 {
		t.Fatalf("plain listener: %d property changes, want 4 (creation, message, join, end)", n)
	}
}
