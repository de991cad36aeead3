package jetstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/chatgate/chatgate/internal/natsserver"
)

// BenchmarkStateLoad10k measures the start-up reload of 10,000 chat states (600 bytes each)
// from a freshly restarted embedded server: one op = start server + list and load all.
func BenchmarkStateLoad10k(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	const chats = 10000
	c := startEngine(b, dir, natsserver.SyncBackground)
	kv, err := c.KV(ctx, stateBucketConfig())
	if err != nil {
		b.Fatal(err)
	}
	st := &states{kv: kv}
	val := make([]byte, 600)
	for i := range chats {
		if _, err := st.create(ctx, fmt.Sprintf("chat%05d", i), val); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Close(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := natsserver.Start(ctx, natsserver.Options{DataDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		kv, err := c.KV(ctx, stateBucketConfig())
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := (&states{kv: kv}).each(ctx, func(string, []byte, uint64) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != chats {
			b.Fatalf("loaded %d", n)
		}
		b.StopTimer()
		if err := c.Close(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
