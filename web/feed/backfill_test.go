package feed

import (
	"context"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/jetstore"
	"github.com/chatgate/chatgate/internal/natsserver"
)

// TestBackfillAfterMissedCommits stands for a crash between commit and listener: the feed
// is detached while a chat commits events (they are in the transcript only). Backfill
// records exactly the missing events, in index order after the recorded ones, and a second
// Backfill records nothing.
func TestBackfillAfterMissedCommits(t *testing.T) {
	ctx := context.Background()
	conn, err := natsserver.Start(ctx, natsserver.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	store, err := jetstore.Open(ctx, conn, jetstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(ctx, Config{JS: conn.JS})
	if err != nil {
		t.Fatal(err)
	}
	core, err := chatcore.New(ctx, chatcore.Config{Store: store, NodeName: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	defer core.Close()
	remove := core.AddListener(f)
	cr, err := core.CreateChat(ctx, chatcore.CreateRequest{Service: "s", Nickname: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	send := func(text string) {
		if _, err := core.SendMessage(ctx, cr.ChatID, cr.UserID, text, ""); err != nil {
			t.Fatal(err)
		}
	}
	send("recorded")
	remove() // the "crash": these commits never reach the feed
	send("missed 1")
	send("missed 2")
	untouched, err := core.CreateChat(ctx, chatcore.CreateRequest{Service: "s", Nickname: "Bo"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Backfill(ctx, core)
	if err != nil {
		t.Fatal(err)
	}
	if st.Chats != 2 || st.Events != 3 {
		t.Fatalf("backfill %+v, want 2 chats, 3 events", st)
	}
	if st, err := f.Backfill(ctx, core); err != nil || st.Events != 0 {
		t.Fatalf("second backfill %+v %v", st, err)
	}
	cur, err := f.Read(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]int64{}
	var texts []string
	for {
		r, err := cur.Next(ctx, 300*time.Millisecond)
		if err == ErrNoRecord {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind == KindEvent {
			got[r.ChatID] = append(got[r.ChatID], r.Event.Index)
			if r.ChatID == cr.ChatID && r.Event.Type == chatcore.EventMessage {
				texts = append(texts, r.Event.Text)
			}
		}
	}
	// Joined and "recorded" (1, 2) came from the listener, 3 and 4 from the backfill.
	if idx := got[cr.ChatID]; len(idx) != 4 || idx[0] != 1 || idx[1] != 2 || idx[2] != 3 || idx[3] != 4 {
		t.Fatalf("chat events %v", idx)
	}
	if len(texts) != 3 || texts[0] != "recorded" || texts[2] != "missed 2" {
		t.Fatalf("messages %q", texts)
	}
	if len(got[untouched.ChatID]) != 1 {
		t.Fatalf("second chat %v", got[untouched.ChatID])
	}
}
