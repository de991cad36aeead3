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
	s, err := c.Stream(context.Background(), eventsStreamConfig(Options{}))
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
	if _, err := other.append(ctx, "a", 2, 3, []byte(`[x]`)); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale writer: err = %v, want conflict", err)
	}
	// It catches up and appends; now the first writer's cache is stale and must be rejected
	// by the server, not by its cache.
	if _, err := other.append(ctx, "a", 3, 4, []byte(`[4]`)); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.append(ctx, "a", 3, 4, []byte(`[y]`)); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale cache: err = %v, want conflict", err)
	}
	for from, want := range map[int64]string{0: "[1,2] [3] [4]", 2: "[1,2] [3] [4]", 3: "[3] [4]", 4: "[4]", 5: ""} {
		recs, err := tr.readPage(ctx, "a", from, noLimit)
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

func TestTranscriptReadStrategiesAgree(t *testing.T) {
	ctx := context.Background()
	c := startEngine(t, t.TempDir(), natsserver.SyncBackground)
	tr, _ := newTestTranscripts(t, c)
	// "long" gets 1- and 3-event records; "noise" is interleaved so "long" is sparse.
	idx := int64(0)
	for i := 0; idx < 100; i++ {
		n := int64(1 + 2*(i%2))
		if _, err := tr.append(ctx, "long", idx, idx+n, fmt.Appendf(nil, "[%d]", idx+1)); err != nil {
			t.Fatal(err)
		}
		idx += n
		for k := int64(0); k < 3; k++ {
			if _, err := tr.append(ctx, "noise", int64(3*i)+k, int64(3*i)+k+1, []byte("[0]")); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, mode := range []string{"adaptive", "chain", "scan"} {
		for _, from := range []int64{-5, 0, 1, 2, 42, 43, 44, 99, 100, 101, 200} {
			rd := newTranscripts(c.NC, c.JS, EventsStream, 10)
			rd.readBatch = 7
			rd.forceChain, rd.forceScan = mode == "chain", mode == "scan"
			recs, err := rd.readPage(ctx, "long", from, noLimit)
			if err != nil {
				t.Fatalf("%s from %d: %v", mode, from, err)
			}
			if from > idx {
				if len(recs) != 0 {
					t.Fatalf("%s from %d: %d records", mode, from, len(recs))
				}
				continue
			}
			want := max(from, 1)
			if len(recs) == 0 || recs[0].first > want || recs[0].last < want || recs[len(recs)-1].last != idx {
				t.Fatalf("%s from %d: got %d records %+v..", mode, from, len(recs), recs[0])
			}
			for i := 1; i < len(recs); i++ {
				if recs[i].first != recs[i-1].last+1 {
					t.Fatalf("%s from %d: gap at %d", mode, from, i)
				}
			}
		}
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
			case !errors.Is(err, ErrConflict):
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d writers succeeded, want exactly 1", round, wins)
		}
	}
	recs, err := tr.readPage(ctx, "race", 1, noLimit)
	if err != nil || len(recs) != 20 {
		t.Fatalf("read: %d records, %v", len(recs), err)
	}
}
