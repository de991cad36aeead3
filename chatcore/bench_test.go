package chatcore

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/natsserver"
)

// Benchmarks run on embedded JetStream with file storage in a temp dir, as chatgate does by
// default. Results and commands: docs/benchmarks.md, "Chat core".

func benchCore(b *testing.B, eng *engine) *Core {
	b.Helper()
	// The per-chat limits are lifted: these measure throughput into few chats, far beyond
	// the event rate and transcript size one real chat is allowed (the checks still run).
	unlimited := Limits{EventRate: 1e12, EventBurst: 1 << 40, MaxEvents: 1 << 40, MaxTranscriptBytes: 1 << 60}
	co, err := New(context.Background(), Config{Store: eng.store, Clock: NewManualClock(t0), NodeName: "bench", Limits: unlimited})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(co.Close)
	return co
}

func syncPolicies() []natsserver.SyncPolicy {
	return []natsserver.SyncPolicy{natsserver.SyncBackground, natsserver.SyncAlways}
}

// BenchmarkSendMessage: messages/s through Core.SendMessage. "one-chat" sends sequentially to
// one chat (the per-chat order bound); "parallel" sends from GOMAXPROCS×4 goroutines, each to
// its own chat.
func BenchmarkSendMessage(b *testing.B) {
	for _, sp := range syncPolicies() {
		b.Run("sync="+string(sp)+"/one-chat", func(b *testing.B) {
			eng := startEngine(b, "", sp)
			co := benchCore(b, eng)
			ctx := context.Background()
			cr, err := co.CreateChat(ctx, CreateRequest{Service: "svc", Nickname: "Ann"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := co.SendMessage(ctx, cr.ChatID, cr.UserID, "hello, this is a message of ordinary length", ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
		// The same append straight to the store, for the Core's overhead under the same
		// conditions (one event of the same size per append, one chat).
		b.Run("sync="+string(sp)+"/store-baseline", func(b *testing.B) {
			eng := startEngine(b, "", sp)
			ctx := context.Background()
			ev := []byte(`{"index":0,"type":"Message","utcTime":1795597200000,"from":{"nickname":"Ann","participantId":1,"type":"Client","userId":"6D7141B3766A9494"},"text":"hello, this is a message of ordinary length"}`)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := eng.store.AppendJSON(ctx, "baseline", int64(i), [][]byte{ev}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
		b.Run("sync="+string(sp)+"/parallel", func(b *testing.B) {
			eng := startEngine(b, "", sp)
			co := benchCore(b, eng)
			ctx := context.Background()
			b.SetParallelism(4)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				cr, err := co.CreateChat(ctx, CreateRequest{Service: "svc", Nickname: "Ann"})
				if err != nil {
					b.Error(err)
					return
				}
				for pb.Next() {
					if _, err := co.SendMessage(ctx, cr.ChatID, cr.UserID, "hello, this is a message of ordinary length", ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkCreateChat: chat creations/s (state create + first event), parallel.
func BenchmarkCreateChat(b *testing.B) {
	for _, sp := range syncPolicies() {
		b.Run("sync="+string(sp), func(b *testing.B) {
			eng := startEngine(b, "", sp)
			co := benchCore(b, eng)
			ctx := context.Background()
			ud := map[string]string{PropAsyncMode: "true"}
			b.SetParallelism(4)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := co.CreateChat(ctx, CreateRequest{Service: "svc", Nickname: "Ann", UserData: ud}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "chats/s")
		})
	}
}

const idleChats = 10000

// createIdle creates n idle async chats (push-enabled customer, one agent message each:
// a typical dormant conversation) and returns after all are committed.
func createIdle(b *testing.B, co *Core, n int) {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	errs := make(chan error, 16)
	done := make(chan struct{})
	for range 16 {
		go func() {
			for next.Add(1) <= int64(n) {
				cr, err := co.CreateChat(ctx, CreateRequest{Service: "svc", Nickname: "Customer", Subject: "order 123",
					UserData: map[string]string{PropAsyncMode: "true", "push_notification_deviceid": "0123456789abcdef0123456789abcdef", "push_notification_type": "fcm"}})
				if err == nil {
					_, err = co.SendMessage(ctx, cr.ChatID, cr.UserID, "Hello, I have a question about my order.", "")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			done <- struct{}{}
		}()
	}
	for range 16 {
		select {
		case err := <-errs:
			b.Fatal(err)
		case <-done:
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkIdleAsyncChatMemory: heap per idle async chat with 10,000 chats open. B/chat is
// the Core's own cost (heap growth while a fresh Core loads the 10,000 stored chats, the
// engine already running); process-B/chat is the heap growth of the whole process while
// they were created (Core + embedded NATS server + store caches).
func BenchmarkIdleAsyncChatMemory(b *testing.B) {
	eng := startEngine(b, "", natsserver.SyncBackground)
	co := benchCore(b, eng)
	before := heapInUse()
	createIdle(b, co, idleChats)
	process := heapInUse() - before
	co.Close()
	b.ResetTimer()
	var perChat float64
	for i := 0; i < b.N; i++ {
		base := heapInUse()
		co2, err := New(context.Background(), Config{Store: eng.store, Clock: NewManualClock(t0), NodeName: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if n := len(co2.ChatIDs()); n != idleChats {
			b.Fatalf("loaded %d chats", n)
		}
		<-co2.warmed // every chat re-read: the steady state
		perChat = float64(heapInUse()-base) / idleChats
		co2.Close()
	}
	b.ReportMetric(perChat, "B/chat")
	b.ReportMetric(float64(process)/idleChats, "process-B/chat")
}

// BenchmarkNewReady: time from New to ready (every chat loaded, timers armed: operations
// are served) with 10,000 stored chats; reread-ms is how long the background re-read of
// every chat's transcript tail takes after that.
func BenchmarkNewReady(b *testing.B) {
	eng := startEngine(b, "", natsserver.SyncBackground)
	co := benchCore(b, eng)
	createIdle(b, co, idleChats)
	co.Close()
	b.ResetTimer()
	var reread time.Duration
	for i := 0; i < b.N; i++ {
		co2, err := New(context.Background(), Config{Store: eng.store, Clock: NewManualClock(t0), NodeName: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		start := time.Now()
		<-co2.warmed
		reread += time.Since(start)
		if n := len(co2.ChatIDs()); n != idleChats {
			b.Fatalf("loaded %d chats", n)
		}
		co2.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(reread.Milliseconds())/float64(b.N), "reread-ms")
}

// BenchmarkAlertsDue: 10,000 async chats whose async-idle-alert falls due at the same moment
// (as after a downtime): time until every alert Notice is committed and delivered.
func BenchmarkAlertsDue(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		eng := startEngine(b, "", natsserver.SyncBackground)
		clock := NewManualClock(t0)
		o := DefaultOptions()
		o.Settings.AsyncIdleAlert = 100 * time.Second
		o.Settings.FlexPushTimeout = 1728000 * time.Second
		var alerts atomic.Int64
		l := ListenerFuncs{Event: func(_ ChatView, ev Event) {
			if ev.UserData[KeyIdleControl] == "alert" {
				alerts.Add(1)
			}
		}}
		co, err := New(context.Background(), Config{Store: eng.store, Clock: clock, Options: StaticOptions(o), Listeners: []Listener{l}})
		if err != nil {
			b.Fatal(err)
		}
		createIdle(b, co, idleChats)
		b.StartTimer()
		start := time.Now()
		clock.Advance(100 * time.Second)
		limit := time.NewTimer(5 * time.Minute)
		for !co.settled() {
			select {
			case <-co.tick:
			case <-limit.C:
				b.Fatal("alerts did not settle")
			}
		}
		limit.Stop()
		took := time.Since(start)
		b.StopTimer()
		if n := alerts.Load(); n != idleChats {
			b.Fatalf("%d alerts", n)
		}
		b.ReportMetric(float64(idleChats)/took.Seconds(), "alerts/s")
		co.Close()
		eng.close()
	}
}
