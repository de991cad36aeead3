package bayeux

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
)

var benchBatch = []byte(`[{"channel":"/chat/room1","clientId":"abcdefghijklmnopqrstuvwxyz234567","id":"42","data":{"text":"hello there, how can I help?","from":"agent","index":17}},{"channel":"/meta/connect","clientId":"abcdefghijklmnopqrstuvwxyz234567","connectionType":"websocket","id":"43","ext":{"ack":12}}]`)

func BenchmarkDecodeBatch(b *testing.B) {
	lim := limits{maxMessages: 100, maxMessageBytes: 1 << 16}
	b.SetBytes(int64(len(benchBatch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeBatch(benchBatch, lim); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeDelivery(b *testing.B) {
	data := []byte(`{"text":"hello there, how can I help?","from":"agent","index":17}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = encodeDelivery("/chat/room1", data, nil)
	}
}

func BenchmarkEncodeConnectReply(b *testing.B) {
	srv, _ := NewServer(Config{})
	b.ReportAllocs()
	for b.Loop() {
		_ = mustEncode(reply{Channel: "/meta/connect", ID: []byte(`"43"`), Successful: true, Advice: srv.retryAdvice(), Ext: replyExt(12, true, nil)})
	}
}

// BenchmarkFanout publishes one message to N sessions subscribed to the channel (half of
// them through a wildcard), queueing it on each: the per-publish server cost of a broadcast.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			srv, err := NewServer(Config{MaxQueue: 1 << 30, MaxLiveSessionsPerBrowser: -1, HandshakesPerMinute: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown(context.Background())
			sessions := make([]*session, n)
			for i := range sessions {
				s := &session{srv: srv, id: newID(), browser: "bench", subs: map[string]struct{}{}}
				s.ack.next = 1
				pattern := "/chat/room"
				if i%2 == 1 {
					pattern = "/chat/*"
				}
				srv.subs.add(pattern, s)
				sessions[i] = s
			}
			data := []byte(`{"text":"hello"}`)
			b.ReportAllocs()
			for b.Loop() {
				if err := srv.Publish(context.Background(), "/chat/room", data); err != nil {
					b.Fatal(err)
				}
				// Drain so queues do not grow across iterations.
				for _, s := range sessions {
					s.mu.Lock()
					s.queue = s.queue[:0]
					s.releaseLocked(s.queueBytes) // as a connect reply taking them would
					s.mu.Unlock()
				}
			}
			b.ReportMetric(float64(n), "deliveries/op")
		})
	}
}
