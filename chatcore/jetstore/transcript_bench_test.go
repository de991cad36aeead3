package jetstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/nats-io/nats.go/jetstream"
)

// fillChats writes n single-event records to each of chats chats, interleaved so every
// chat's records are spread over the stream like real traffic.
func fillChats(b *testing.B, tr *transcripts, chats, n int) {
	b.Helper()
	ctx := context.Background()
	payload := make([]byte, 200)
	for i := 1; i <= n; i++ {
		for c := 0; c < chats; c++ {
			if _, err := tr.append(ctx, fmt.Sprintf("c%d", c), int64(i-1), int64(i), payload); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkTranscriptRead compares ways of reading one 50-event chat from index 1 (the
// worst case: a full reload) and from its last 3 events (a typical refresh), with 200 and
// 2,000 chats interleaved in the stream: chained lookups by sequence, a batched forward
// subject scan, the adaptive choice read makes, and an ordered consumer.
func BenchmarkTranscriptRead(b *testing.B) {
	ctx := context.Background()
	for _, chats := range []int{200, 2000} {
		b.Run(fmt.Sprintf("chats=%d", chats), func(b *testing.B) {
			c := startEngine(b, b.TempDir(), natsserver.SyncBackground)
			tr, _ := newTestTranscripts(b, c)
			const events = 50
			fillChats(b, tr, chats, events)
			for _, mode := range []string{"adaptive", "chain", "scan"} {
				for _, from := range []int64{1, events - 2} {
					b.Run(fmt.Sprintf("%s/from=%d", mode, from), func(b *testing.B) {
						rd := newTranscripts(c.NC, c.JS, EventsStream, 1)
						rd.forceChain, rd.forceScan = mode == "chain", mode == "scan"
						i := 0
						for b.Loop() {
							recs, err := rd.readPage(ctx, fmt.Sprintf("c%d", i%chats), from, noLimit)
							if err != nil || len(recs) != int(events-from+1) {
								b.Fatalf("%d records, %v", len(recs), err)
							}
							i++
						}
					})
				}
			}
			b.Run("ordered-consumer/from=1", func(b *testing.B) {
				i := 0
				for b.Loop() {
					cons, err := c.JS.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{
						FilterSubjects: []string{transcriptSubject(fmt.Sprintf("c%d", i%chats))},
					})
					if err != nil {
						b.Fatal(err)
					}
					got := 0
					for got < events {
						batch, err := cons.Fetch(events-got, jetstream.FetchMaxWait(5*time.Second))
						if err != nil {
							b.Fatal(err)
						}
						for range batch.Messages() {
							got++
						}
						if batch.Error() != nil {
							b.Fatal(batch.Error())
						}
					}
					if err := c.JS.DeleteConsumer(ctx, EventsStream, cons.CachedInfo().Name); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}
