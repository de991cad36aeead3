package jetstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/nats-io/nats.go/jetstream"
)

func startEngine(t testing.TB, dir string, sync natsserver.SyncPolicy) *natsserver.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := natsserver.Start(ctx, natsserver.Options{DataDir: dir, Sync: sync})
	if err != nil {
		t.Fatalf("start engine: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func newTestTranscripts(t testing.TB, c *natsserver.Conn) (*transcripts, jetstream.Stream) {
	t.Helper()
	s, err := c.Stream(context.Background(), eventsStreamConfig())
	if err != nil {
		t.Fatal(err)
	}
	return newTranscripts(c.NC, c.JS, EventsStream, 1000), s
}

func TestTranscriptAppendReadConflict(t *testing.T) {
	ctx := context.Background()
	c := startEngine(t, t.TempDir(), natsserver.SyncBackground)
	tr, _ := newTestTranscripts(t, c)
	other := newTranscripts(c.NC, c.JS, EventsStream, 1000) // a second writer with its own cache

	if _, err := tr.append(ctx, "a", 0, 2, []byte(`[1,2]`)); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.append(ctx, "b", 0, 1, []byte(`[1]`)); err != nil { // interleave another chat
		t.Fatal(err)
	}
	if _, err := tr.append(ctx, "a", 2, 3, []byte(`[3]`)); err != nil {
		t.Fatal(err)
	}
	// The other writer believes the chat is at index 2: rejected.
	if _, err := other.append(ctx, "a", 2, 3, []byte(`[x]`)); !errors.Is(err, errConflict) {
		t.Fatalf("stale writer: err = %v, want conflict", err)
	}
	// It catches up and appends; now the first writer's cache is stale and must be rejected
	// by the server, not by its cache.
	if _, err := other.append(ctx, "a", 3, 4, []byte(`[4]`)); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.append(ctx, "a", 3, 4, []byte(`[y]`)); !errors.Is(err, errConflict) {
		t.Fatalf("stale cache: err = %v, want conflict", err)
	}
	for from, want := range map[int64]string{0: "[1,2] [3] [4]", 2: "[1,2] [3] [4]", 3: "[3] [4]", 4: "[4]", 5: ""} {
		recs, err := tr.read(ctx, "a", from)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for i, r := range recs {
			if i > 0 {
				got += " "
			}
			got += string(r.data)
		}
		if got != want {
			t.Errorf("read from %d = %q, want %q", from, got, want)
		}
	}
}

func TestTranscriptReadManyBatches(t *testing.T) {
	ctx := context.Background()
	c := startEngine(t, t.TempDir(), natsserver.SyncBackground)
	tr, _ := newTestTranscripts(t, c)
	tr.readBatch = 7
	for i := int64(1); i <= 100; i++ {
		if _, err := tr.append(ctx, "long", i-1, i, fmt.Appendf(nil, "[%d]", i)); err != nil {
			t.Fatal(err)
		}
	}
	fresh := newTranscripts(c.NC, c.JS, EventsStream, 10)
	fresh.readBatch = 7
	recs, err := fresh.read(ctx, "long", 42)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 59 || recs[0].first != 42 || recs[58].last != 100 {
		t.Fatalf("got %d records, first %+v", len(recs), recs[0])
	}
}

func TestTranscriptConcurrentWritersOneWins(t *testing.T) {
	ctx := context.Background()
	c := startEngine(t, t.TempDir(), natsserver.SyncBackground)
	tr, _ := newTestTranscripts(t, c)
	for round := int64(0); round < 20; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for w := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wr := newTranscripts(c.NC, c.JS, EventsStream, 10)
				_, errs[w] = wr.append(ctx, "race", round, round+1, fmt.Appendf(nil, "[%d]", w))
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, errConflict):
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d writers succeeded, want exactly 1", round, wins)
		}
	}
	recs, err := tr.read(ctx, "race", 1)
	if err != nil || len(recs) != 20 {
		t.Fatalf("read: %d records, %v", len(recs), err)
	}
}
