package jetstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/natsserver"
)

func openStore(t testing.TB, c *natsserver.Conn) *Store {
	t.Helper()
	s, err := Open(context.Background(), c, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func ev(i int64, text string) []byte { return fmt.Appendf(nil, `{"index":%d,"text":%q}`, i, text) }

func TestStoreSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c1, err := natsserver.Start(ctx, natsserver.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, c1)
	rev, err := s.st.create(ctx, "chatA", []byte(`{"v":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.update(ctx, "chatA", []byte(`{"v":2}`), rev); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendJSON(ctx, "chatA", 0, [][]byte{ev(1, "joined"), ev(2, "hello")}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendJSON(ctx, "chatA", 2, [][]byte{ev(3, "bye")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.fl.put(ctx, "chatA", "f1", FileMeta{Name: "a.txt", ContentType: "text/plain"}, strings.NewReader("file body")); err != nil {
		t.Fatal(err)
	}
	if err := c1.Close(ctx); err != nil {
		t.Fatal(err)
	}

	c2 := startEngine(t, dir, natsserver.SyncBackground)
	s = openStore(t, c2) // idempotent re-creation of stream and buckets
	val, _, err := s.st.get(ctx, "chatA")
	if err != nil || string(val) != `{"v":2}` {
		t.Fatalf("state after restart: %q, %v", val, err)
	}
	evs, err := pageAll(ctx, s, "chatA", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].Index != 1 || evs[2].Index != 3 || !bytes.Contains(evs[2].JSON, []byte("bye")) {
		t.Fatalf("events after restart: %+v", evs)
	}
	if n, err := s.LastIndex(ctx, "chatA"); err != nil || n != 3 {
		t.Fatalf("lastIndex = %d, %v", n, err)
	}
	// The tail cache is empty after restart: the next append must learn the position from
	// the server, and a stale writer is still refused.
	if err := s.AppendJSON(ctx, "chatA", 3, [][]byte{ev(4, "again")}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendJSON(ctx, "chatA", 3, [][]byte{ev(4, "dup")}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale append after restart: %v", err)
	}
	meta, rc, err := s.fl.get(ctx, "chatA", "f1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	_ = rc.Close()
	if string(body) != "file body" || meta.Name != "a.txt" || meta.ContentType != "text/plain" {
		t.Fatalf("file after restart: %+v %q", meta, body)
	}
	n := 0
	if err := s.st.each(ctx, func(id string, _ []byte, _ uint64) error {
		if id != "chatA" {
			t.Errorf("unexpected chat %q", id)
		}
		n++
		return nil
	}); err != nil || n != 1 {
		t.Fatalf("each: %d chats, %v", n, err)
	}
}

func TestStoreStateCompareAndSet(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, startEngine(t, t.TempDir(), natsserver.SyncBackground))
	if _, _, err := s.st.get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	rev, err := s.st.create(ctx, "c", []byte("0"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.create(ctx, "c", []byte("x")); !errors.Is(err, ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	// Many writers read the same revision; exactly one update wins.
	var wg sync.WaitGroup
	wins := make(chan uint64, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.st.update(ctx, "c", fmt.Appendf(nil, "%d", w), rev)
			switch {
			case err == nil:
				wins <- n
			case !errors.Is(err, ErrConflict):
				t.Errorf("writer %d: %v", w, err)
			}
		}()
	}
	wg.Wait()
	close(wins)
	if len(wins) != 1 {
		t.Fatalf("%d updates on the same revision succeeded", len(wins))
	}
	if err := s.DeleteChat(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.st.get(ctx, "c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	// The id can be created again after deletion.
	if _, err := s.CreateChat(ctx, "c", []byte("again")); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
	if v, _, err := s.LoadChat(ctx, "c"); err != nil || string(v) != "again" {
		t.Fatalf("load after re-create: %q %v", v, err)
	}
}

func TestStoreDeleteChat(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, startEngine(t, t.TempDir(), natsserver.SyncBackground))
	for _, chat := range []string{"keep", "gone"} {
		if _, err := s.st.create(ctx, chat, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendJSON(ctx, chat, 0, [][]byte{ev(1, chat)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.fl.put(ctx, chat, "f", FileMeta{Name: "x"}, strings.NewReader(chat)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteChat(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.LastIndex(ctx, "gone"); err != nil || n != 0 {
		t.Fatalf("deleted chat lastIndex %d, %v", n, err)
	}
	if _, _, err := s.fl.get(ctx, "gone", "f"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted chat file: %v", err)
	}
	if evs, err := pageAll(ctx, s, "keep", 1); err != nil || len(evs) != 1 {
		t.Fatalf("other chat: %v %v", evs, err)
	}
	if _, rc, err := s.fl.get(ctx, "keep", "f"); err != nil {
		t.Fatalf("other chat's file: %v", err)
	} else {
		_ = rc.Close()
	}
	// A new chat may reuse the id: its transcript starts at 1 again.
	if err := s.AppendJSON(ctx, "gone", 0, [][]byte{ev(1, "new")}); err != nil {
		t.Fatal(err)
	}
}

func TestStoreRefusesBadIDs(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, startEngine(t, t.TempDir(), natsserver.SyncBackground))
	if err := s.AppendJSON(ctx, "victim", 0, [][]byte{ev(1, "secret")}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"*", ">", "victim.x", "", "a b"} {
		if _, err := pageAll(ctx, s, id, 1); !errors.Is(err, ErrInvalid) {
			t.Errorf("eventsRaw(%q): %v", id, err)
		}
		if err := s.AppendJSON(ctx, id, 0, [][]byte{ev(1, "x")}); !errors.Is(err, ErrInvalid) {
			t.Errorf("appendRaw(%q): %v", id, err)
		}
	}
}

// Two nodes (separate connections, separate Stores and caches) race to extend the same chat
// after the same index, 30 rounds: exactly one wins each round, the transcript stays gapless.
func TestStoreTwoNodesOneWriterWins(t *testing.T) {
	ctx := context.Background()
	ctx1, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	srv, err := natsserver.Start(ctx1, natsserver.Options{DataDir: t.TempDir(), ListenHost: "127.0.0.1", ListenPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	other, err := natsserver.Start(ctx1, natsserver.Options{ExternalURL: srv.ClientURL(), Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	nodes := []*Store{openStore(t, srv), openStore(t, other)}

	for round := int64(0); round < 30; round++ {
		errs := make([]error, len(nodes))
		var wg sync.WaitGroup
		for n, s := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[n] = s.AppendJSON(ctx, "contested", round, [][]byte{ev(round+1, fmt.Sprint("node", n))})
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, ErrConflict):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d writers succeeded (errors %v)", round, wins, errs)
		}
	}
	for _, s := range nodes {
		evs, err := pageAll(ctx, s, "contested", 1)
		if err != nil || len(evs) != 30 {
			t.Fatalf("%d events, %v", len(evs), err)
		}
		for i, e := range evs {
			if e.Index != int64(i+1) {
				t.Fatalf("event %d has index %d", i, e.Index)
			}
		}
	}
}

func TestStoreAppendTooLargeWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, startEngine(t, t.TempDir(), natsserver.SyncBackground))
	big := []byte(`"` + strings.Repeat("x", 2<<20) + `"`)
	if err := s.AppendJSON(ctx, "big", 0, [][]byte{ev(1, "ok"), big}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("2 MiB append: %v", err)
	}
	if n, err := s.LastIndex(ctx, "big"); err != nil || n != 0 {
		t.Fatalf("after refused append: last %d, %v", n, err)
	}
	if err := s.AppendJSON(ctx, "big", 0, [][]byte{ev(1, "ok")}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendJSON(ctx, "big", 0, nil); err != nil {
		t.Fatalf("empty append: %v", err)
	}
	if err := s.AppendJSON(ctx, "big", -1, [][]byte{ev(0, "x")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative index: %v", err)
	}
}
