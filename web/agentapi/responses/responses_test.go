package responses

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/chatgate/chatgate/internal/natsserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// openStore starts the embedded JetStream on dir and opens the store on it; the returned
// function stops that server.
func openStore(t *testing.T, dir string) (*Store, func()) {
	t.Helper()
	c, err := natsserver.Start(context.Background(), natsserver.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), Config{KV: c})
	if err != nil {
		c.Close(context.Background())
		t.Fatal(err)
	}
	return s, func() { c.Close(context.Background()) }
}

func TestSpecValidation(t *testing.T) {
	long := strings.Repeat("x", MaxText+1)
	for _, c := range []struct {
		sp   Spec
		want string // part of the message; "" means valid
	}{
		{Spec{Name: "Greeting", Text: "Hello!"}, ""},
		{Spec{Name: "  Greeting ", Shortcut: " /Greet ", Text: "Hello,\n\tthere", Services: []string{" s1 ", "s1", ""}, Queues: []string{"q"}}, ""},
		{Spec{Name: "n", Text: strings.Repeat("é", MaxText/2)}, ""},
		{Spec{Text: "x"}, "name is required"},
		{Spec{Name: "   ", Text: "x"}, "name is required"},
		{Spec{Name: strings.Repeat("n", MaxName+1), Text: "x"}, "name is longer than 100 bytes"},
		{Spec{Name: "a\x00b", Text: "x"}, "name must be valid UTF-8"},
		{Spec{Name: "a\nb", Text: "x"}, "name must be valid UTF-8"},
		{Spec{Name: "n"}, "text is required"},
		{Spec{Name: "n", Text: " \n "}, "text is required"},
		{Spec{Name: "n", Text: long}, "text is longer than 4096 bytes (4097)"},
		{Spec{Name: "n", Text: "bad \xff byte"}, "text must be valid UTF-8"},
		{Spec{Name: "n", Text: "bell \a"}, "text must be valid UTF-8"},
		{Spec{Name: "n", Text: "x", Shortcut: "greet"}, "shortcut \"greet\" must be / followed by"},
		{Spec{Name: "n", Text: "x", Shortcut: "/"}, "shortcut"},
		{Spec{Name: "n", Text: "x", Shortcut: "/gr eet"}, "shortcut"},
		{Spec{Name: "n", Text: "x", Shortcut: "/" + strings.Repeat("a", MaxShortcut+1)}, "shortcut"},
		{Spec{Name: "n", Text: "x", Shortcut: "/grüß"}, "shortcut"},
		{Spec{Name: "n", Text: "x", Services: make51("s")}, "more than 50 services"},
		{Spec{Name: "n", Text: "x", Queues: make51("q")}, "more than 50 queues"},
		{Spec{Name: "n", Text: "x", Queues: []string{strings.Repeat("q", MaxScopeName+1)}}, "at most 64 bytes"},
	} {
		err := c.sp.Normalize().Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.sp, err)
		case c.want != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%.60v: %v, want %q", c.sp, err, c.want)
		}
	}
	n := Spec{Name: " A ", Shortcut: " /HI ", Text: " keep \n", Services: []string{" s ", "s", ""}}.Normalize()
	if n.Name != "A" || n.Shortcut != "/hi" || n.Text != " keep \n" || len(n.Services) != 1 || n.Services[0] != "s" {
		t.Fatalf("normalized %+v", n)
	}
}

func make51(p string) []string {
	out := make([]string, 51)
	for i := range out {
		out[i] = p + strings.Repeat("x", i+1)
	}
	return out
}

// TestStoreShortcutsAndRestart: create, list by name, a taken shortcut refused without any
// change, renaming a shortcut frees the old one, a shortcut key left behind by a crash is
// taken over, delete frees the shortcut, and everything is still there after the JetStream
// server restarts on the same data.
func TestStoreShortcutsAndRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, stop := openStore(t, dir)
	greet, err := s.Create(ctx, Spec{Name: "Greeting", Shortcut: "/greet", Text: "Hello, how can I help?"})
	if err != nil {
		t.Fatal(err)
	}
	bye, err := s.Create(ctx, Spec{Name: "bye", Shortcut: "/bye", Text: "Goodbye!", Queues: []string{"support"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, Spec{Name: "Other greeting", Shortcut: "/GREET", Text: "Hi"}); !errors.Is(err, ErrConflict) ||
		!strings.Contains(err.Error(), `shortcut /greet is already used by "Greeting"`) {
		t.Fatalf("taken shortcut: %v", err)
	}
	if _, err := s.Update(ctx, bye.ID, Spec{Name: "bye", Shortcut: "/greet", Text: "changed"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("update to a taken shortcut: %v", err)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != bye.ID || list[1].ID != greet.ID || list[0].Text != "Goodbye!" {
		t.Fatalf("list after the refusals (by name, unchanged): %+v", list)
	}
	// Renaming /greet to /hello frees /greet.
	if _, err := s.Update(ctx, greet.ID, Spec{Name: "Greeting", Shortcut: "/hello", Text: "Hello!"}); err != nil {
		t.Fatal(err)
	}
	other, err := s.Create(ctx, Spec{Name: "Other greeting", Shortcut: "/greet", Text: "Hi"})
	if err != nil {
		t.Fatalf("freed shortcut: %v", err)
	}
	// A crash between claiming a shortcut and writing the response leaves the key behind,
	// naming a response that does not exist: the next claim takes it over.
	if _, err := s.kv.Put(ctx, shortcutPrefix+"stale", []byte(strings.Repeat("0", 32))); err != nil {
		t.Fatal(err)
	}
	stale, err := s.Create(ctx, Spec{Name: "stale", Shortcut: "/stale", Text: "x"})
	if err != nil {
		t.Fatalf("stale shortcut key: %v", err)
	}
	if err := s.Delete(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, other.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
	if err := s.Delete(ctx, other.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted twice: %v", err)
	}
	if _, err := s.Update(ctx, "nope", Spec{Name: "n", Text: "x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of an unknown id: %v", err)
	}
	stop()

	s, stop = openStore(t, dir)
	defer stop()
	list, err = s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range list {
		names = append(names, r.Name+" "+r.Shortcut)
	}
	if strings.Join(names, ",") != "bye /bye,Greeting /hello,stale /stale" {
		t.Fatalf("after the restart: %q", names)
	}
	if got, err := s.Get(ctx, stale.ID); err != nil || got.Text != "x" || got.Created.IsZero() {
		t.Fatalf("get after restart: %+v %v", got, err)
	}
	// /greet was freed by the delete before the restart.
	if _, err := s.Create(ctx, Spec{Name: "again", Shortcut: "/greet", Text: "x"}); err != nil {
		t.Fatal(err)
	}
}

// TestBucketLimit: beyond MaxResponses a create is refused and stores nothing.
func TestBucketLimit(t *testing.T) {
	ctx := context.Background()
	s, stop := openStore(t, t.TempDir())
	defer stop()
	// Fill the bucket directly (MaxResponses creates through the API would be slow and test
	// the same count).
	for i := range MaxResponses {
		id := strings.Repeat("0", 28) + hex4(i)
		if _, err := s.kv.Put(ctx, responsePrefix+id, []byte(`{"id":"`+id+`","name":"n","text":"x"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, Spec{Name: "one more", Shortcut: "/more", Text: "x"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("create beyond the limit: %v", err)
	}
	if n, _ := s.count(ctx); n != MaxResponses {
		t.Fatalf("count %d", n)
	}
	if _, err := s.kv.Get(ctx, shortcutPrefix+"more"); err == nil {
		t.Fatal("the refused create claimed its shortcut")
	}
}

func hex4(i int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[i>>12&15], digits[i>>8&15], digits[i>>4&15], digits[i&15]})
}
