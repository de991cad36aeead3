package push_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/push"
	"github.com/chatgate/chatgate/push/pushtest"
)

// benchEnv is newEnv with the wall clock, large worker pools and fakes that keep nothing.
type benchEnv struct {
	apns    *pushtest.APNs
	fcm     *pushtest.FCM
	wp      *pushtest.WebPush
	recv    *pushtest.HTTPReceiver
	reg     *push.Registry
	d       *push.Dispatcher
	vapid   push.VAPIDCredential
	mu      sync.Mutex
	lat     []time.Duration
	closeFn func()
}

func newBenchEnv(b *testing.B, concurrency, queue int) *benchEnv {
	b.Helper()
	e := &benchEnv{}
	var err error
	if e.apns, err = pushtest.StartAPNs("com.example.chat", 1); err != nil {
		b.Fatal(err)
	}
	if e.fcm, err = pushtest.StartFCM("bench", 1); err != nil {
		b.Fatal(err)
	}
	e.wp = pushtest.StartWebPush(1)
	e.recv = pushtest.StartHTTPReceiver(1)
	client := pushtest.Client(e.fcm.Server, e.wp.Server, e.recv.Server)
	e.reg = push.NewRegistry(push.RegistryOptions{HTTPClient: client,
		APNsProductionHost: e.apns.Server.URL, APNsTLS: pushtest.TLSConfig(e.apns.Server),
		FCMEndpoint: e.fcm.Server.URL, WebPushHosts: []string{"127.0.0.1"}})
	e.vapid, _ = push.GenerateVAPID("ops@example.com")
	for _, c := range []push.Credential{
		{Key: key(push.KindAPNs, false), APNs: &push.APNsCredential{AuthKeyP8: e.apns.KeyP8, KeyID: e.apns.KeyID, TeamID: e.apns.TeamID, Topic: "com.example.chat"}},
		{Key: key(push.KindFCM, false), FCM: &push.FCMCredential{ServiceAccountJSON: e.fcm.ServiceAccountJSON()}},
		{Key: key(push.KindWebPush, false), WebPush: &e.vapid},
		{Key: key(push.KindHTTP, false), HTTP: &push.HTTPCredential{URL: e.recv.Server.URL}},
	} {
		if _, err := e.reg.Apply(c); err != nil {
			b.Fatal(err)
		}
	}
	conc := map[push.Kind]int{}
	for _, k := range push.Kinds {
		conc[k] = concurrency
	}
	e.d, err = push.New(push.Config{Resolver: e.reg, Concurrency: conc, QueueSize: queue,
		OnResult: func(r push.Result) {
			e.mu.Lock()
			e.lat = append(e.lat, r.Latency)
			e.mu.Unlock()
		}})
	if err != nil {
		b.Fatal(err)
	}
	e.closeFn = func() {
		_ = e.d.Close(context.Background())
		e.reg.Close()
		client.CloseIdleConnections()
		e.apns.Close()
		e.fcm.Close()
		e.wp.Close()
		e.recv.Close()
	}
	return e
}

func (e *benchEnv) target(b *testing.B, k push.Kind) push.Target {
	switch k {
	case push.KindWebPush:
		_, ep, p, a := e.wp.Subscribe()
		return push.Target{Kind: k, WebPush: &push.WebPushSubscription{Endpoint: ep, P256dh: p, Auth: a}}
	default:
		return push.Target{Kind: k, DeviceID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	}
}

// enqueueAll offers n notifications, waiting (not dropping) while the queue is full, and
// waits until the results are in.
func (e *benchEnv) enqueueAll(b *testing.B, n int, t push.Target) {
	msg := agentMessage(t)
	for i := 0; i < n; {
		_, err := e.d.Enqueue(msg)
		if errors.Is(err, push.ErrQueueFull) {
			runtime.Gosched()
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		e.mu.Lock()
		got := len(e.lat)
		e.mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d results", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (e *benchEnv) report(b *testing.B, elapsed time.Duration, n int) {
	b.ReportMetric(float64(n)/elapsed.Seconds(), "notifications/s")
	e.mu.Lock()
	lat := slices.Clone(e.lat)
	e.mu.Unlock()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
	st := e.d.Stats()
	var sent uint64
	for _, s := range st {
		sent += s.Sent
	}
	if sent < uint64(n) {
		b.Fatalf("sent %d of %d: %+v", sent, n, st)
	}
}

// BenchmarkThroughput: notifications/s from Enqueue to the provider fake's answer, per
// provider, with 64 concurrent sends per provider (latency under saturation is queueing).
func BenchmarkThroughput(b *testing.B) {
	for _, k := range push.Kinds {
		b.Run(string(k), func(b *testing.B) {
			// The queue holds the whole run, so the producer never spins on ErrQueueFull
			// (that would steal CPU from the workers being measured).
			e := newBenchEnv(b, 64, max(20000, b.N+1000))
			defer e.closeFn()
			t := e.target(b, k)
			e.enqueueAll(b, 200, t) // warm connections and the OAuth token
			e.mu.Lock()
			e.lat = e.lat[:0]
			e.mu.Unlock()
			b.ResetTimer()
			start := time.Now()
			e.enqueueAll(b, b.N, t)
			e.report(b, time.Since(start), b.N)
		})
	}
}

// BenchmarkLatency: one notification at a time, event (Enqueue) → provider answer.
func BenchmarkLatency(b *testing.B) {
	for _, k := range push.Kinds {
		b.Run(string(k), func(b *testing.B) {
			e := newBenchEnv(b, 4, 100)
			defer e.closeFn()
			t := e.target(b, k)
			msg := agentMessage(t)
			if _, err := e.d.Deliver(context.Background(), msg); err != nil {
				b.Fatal(err)
			}
			var lat []time.Duration
			b.ResetTimer()
			for range b.N {
				s := time.Now()
				r, err := e.d.Deliver(context.Background(), msg)
				if err != nil || r.Outcome != push.OutcomeDelivered {
					b.Fatalf("%+v %v", r, err)
				}
				lat = append(lat, time.Since(s))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkBurst100k: 100,000 APNs notifications enqueued at once (queue large enough to
// hold them all); reports the peak heap growth while they drain.
func BenchmarkBurst100k(b *testing.B) {
	const n = 100000
	for range b.N {
		e := newBenchEnv(b, 64, n)
		t := e.target(b, push.KindAPNs)
		e.enqueueAll(b, 100, t)
		e.mu.Lock()
		e.lat = e.lat[:0]
		e.mu.Unlock()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		peak := before.HeapInuse
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					peak = max(peak, m.HeapInuse)
				}
			}
		}()
		start := time.Now()
		msg := agentMessage(t)
		for i := range n {
			msg.Data = map[string]string{"event": "Message", "chatId": "c" + strconv.Itoa(i), "userId": "u1"}
			if _, err := e.d.Enqueue(msg); err != nil {
				b.Fatal(err)
			}
		}
		enq := time.Since(start)
		// Live memory right after the burst (a GC first, so garbage does not count); the
		// queue is still mostly full at this point.
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		st := e.d.Stats()[push.KindAPNs]
		e.enqueueAll(b, 0, t)
		for {
			e.mu.Lock()
			got := len(e.lat)
			e.mu.Unlock()
			if got >= n {
				break
			}
			time.Sleep(time.Millisecond)
		}
		elapsed := time.Since(start)
		close(stop)
		<-sampled
		b.ReportMetric(float64(peak-before.HeapInuse)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/(1<<20), "live-after-burst-MiB")
		b.ReportMetric(float64(st.Queued), "queued-at-that-point")
		b.ReportMetric(enq.Seconds()*1000, "enqueue-ms")
		b.ReportMetric(elapsed.Seconds(), "drain-s")
		b.ReportMetric(n/elapsed.Seconds(), "notifications/s")
		e.closeFn()
	}
}
