package pushlink

import (
	"slices"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/push"
)

// BenchmarkCoreEventToAPNs measures the latency from a chat event to the provider: an
// agent's core.SendMessage (committed to JetStream, handed to the link by the core's
// listener, enqueued on the dispatcher) until the dispatcher has the APNs fake's 200 for
// that push (its delivered result), one message at a time, everything in process on the
// same cores (embedded NATS with its default background fsync, the APNs fake over
// loopback TLS/HTTP/2). The result callback fires after the fake's answer reached the
// dispatcher, so the figure is an upper bound of "event → APNs receives" by one HTTP/2
// response. Also reported: how long SendMessage itself takes (commit + listener fan-out,
// which includes the link's enqueue).
//
//	go test -run XXX -bench CoreEventToAPNs -benchtime 5000x -count 3 ./web/pushlink/
func BenchmarkCoreEventToAPNs(b *testing.B) {
	e := startCore(b, nil)
	ctx := b.Context()
	cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: "customer-async", Nickname: "Customer",
		UserData: map[string]string{chatcore.PropAsyncMode: "true", "push_notification_deviceid": "bench-token", "push_notification_type": "ios"}})
	if err != nil {
		b.Fatal(err)
	}
	delivered := make(chan time.Time, 1)
	defer e.d.OnResult(func(r push.Result) {
		if r.Outcome == push.OutcomeDelivered {
			delivered <- time.Now()
		}
	})()
	if _, _, err := e.core.Join(ctx, cr.ChatID, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: "Anna", UserID: "agent-7"}); err != nil {
		b.Fatal(err)
	}
	<-delivered // the AgentJoined push; also warms the HTTP/2 connection and the provider token
	lat := make([]time.Duration, 0, b.N)
	commit := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := e.core.SendMessage(ctx, cr.ChatID, "agent-7", "Your order has shipped", ""); err != nil {
			b.Fatal(err)
		}
		commit = append(commit, time.Since(start))
		select {
		case at := <-delivered:
			lat = append(lat, at.Sub(start))
		case <-time.After(10 * time.Second):
			b.Fatalf("no delivered result (link %+v, apns %+v)", e.link.Stats(), e.d.Stats()[push.KindAPNs])
		}
	}
	b.StopTimer()
	if st := e.link.Stats(); st.Notified != uint64(b.N)+1 {
		b.Fatalf("link %+v", st)
	}
	slices.Sort(lat)
	slices.Sort(commit)
	pct := func(s []time.Duration, p int) float64 { return float64(s[(len(s)-1)*p/100].Microseconds()) }
	b.ReportMetric(pct(lat, 50), "p50-event→apns-µs")
	b.ReportMetric(pct(lat, 99), "p99-event→apns-µs")
	b.ReportMetric(pct(commit, 50), "p50-SendMessage-µs")
	b.ReportMetric(pct(commit, 99), "p99-SendMessage-µs")
}
