package jetstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/natsserver"
)

// benchEvent is a typical message event, about 200 bytes of JSON.
var benchEvent = []byte(`{"index":0,"type":"Message","utcTime":1764000000000,"from":{"participantId":"8f2c","nickname":"Customer","type":"Client"},"text":"Hello, I would like to know the status of my order number 12345, please.","messageType":"text"}`)

// BenchmarkStoreAppend: one single-event append per op under both sync policies; "seq" is
// one writer on one chat, "chats64" is 64 goroutines each owning its own chat.
func BenchmarkStoreAppend(b *testing.B) {
	ctx := context.Background()
	for _, sync := range []natsserver.SyncPolicy{natsserver.SyncBackground, natsserver.SyncAlways} {
		b.Run(string(sync)+"/seq", func(b *testing.B) {
			s := openStore(b, startEngine(b, b.TempDir(), sync))
			var idx int64
			for b.Loop() {
				if err := s.AppendJSON(ctx, "one", idx, [][]byte{benchEvent}); err != nil {
					b.Fatal(err)
				}
				idx++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(string(sync)+"/chats64", func(b *testing.B) {
			s := openStore(b, startEngine(b, b.TempDir(), sync))
			var next atomic.Int64
			b.SetParallelism(32) // 32 × GOMAXPROCS(2) = 64 writers
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				chat := fmt.Sprintf("p%d", next.Add(1))
				var idx int64
				for pb.Next() {
					if err := s.AppendJSON(ctx, chat, idx, [][]byte{benchEvent}); err != nil {
						b.Error(err)
						return
					}
					idx++
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
	b.Run("background/batch3", func(b *testing.B) {
		s := openStore(b, startEngine(b, b.TempDir(), natsserver.SyncBackground))
		var idx int64
		for b.Loop() {
			if err := s.AppendJSON(ctx, "one", idx, [][]byte{benchEvent, benchEvent, benchEvent}); err != nil {
				b.Fatal(err)
			}
			idx += 3
		}
		b.ReportMetric(3*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkStoreEvents reads one 50-event chat (of 2,000 interleaved chats) from index 1
// (full reload) and from index 48 (a typical refresh).
func BenchmarkStoreEvents(b *testing.B) {
	ctx := context.Background()
	s := openStore(b, startEngine(b, b.TempDir(), natsserver.SyncBackground))
	const chats, events = 2000, 50
	for i := int64(0); i < events; i++ {
		for c := 0; c < chats; c++ {
			if err := s.AppendJSON(ctx, fmt.Sprintf("c%d", c), i, [][]byte{benchEvent}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, from := range []int64{1, 48} {
		b.Run(fmt.Sprintf("from=%d", from), func(b *testing.B) {
			i := 0
			for b.Loop() {
				evs, err := pageAll(ctx, s, fmt.Sprintf("c%d", i%chats), from)
				if err != nil || len(evs) != int(events-from+1) {
					b.Fatalf("%d events, %v", len(evs), err)
				}
				i++
			}
		})
	}
}

// BenchmarkStoreStartup10k: restart of the embedded server over 10,000 stored chats (600-byte
// state, 5 events each), then Open and the reload chatcore does at start: every chat's state
// ("states"), and additionally every chat's last transcript index ("states+lastIndex").
func BenchmarkStoreStartup10k(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	const chats = 10000
	c := startEngine(b, dir, natsserver.SyncBackground)
	s := openStore(b, c)
	state := make([]byte, 600)
	for i := range chats {
		id := fmt.Sprintf("chat%05d", i)
		if _, err := s.st.create(ctx, id, state); err != nil {
			b.Fatal(err)
		}
		for k := int64(0); k < 5; k++ {
			if err := s.AppendJSON(ctx, id, k, [][]byte{benchEvent}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := c.Close(ctx); err != nil {
		b.Fatal(err)
	}
	for _, withTail := range []bool{false, true} {
		name := "states"
		if withTail {
			name = "states+lastIndex"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				c, err := natsserver.Start(ctx, natsserver.Options{DataDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				s, err := Open(ctx, c, Options{})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				err = s.st.each(ctx, func(id string, _ []byte, _ uint64) error {
					n++
					if withTail {
						last, err := s.LastIndex(ctx, id)
						if err == nil && last != 5 {
							err = fmt.Errorf("chat %s last index %d", id, last)
						}
						return err
					}
					return nil
				})
				if err != nil || n != chats {
					b.Fatalf("loaded %d, %v", n, err)
				}
				b.StopTimer()
				if err := c.Close(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
