package web

import (
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestBayeuxCollector(t *testing.T) {
	var in atomic.Uint64
	stats := func() BayeuxStats {
		return BayeuxStats{
			Sessions:      3,
			Connections:   map[string]int64{"websocket": 2, "long-polling": 1},
			MessagesIn:    in.Load(),
			MessagesOut:   9,
			QueueDrops:    1,
			QueuedBytes:   4096,
			Subscriptions: 11,
			Refusals:      map[string]uint64{"handshake_rate": 7, "browser_sessions": 0},
		}
	}
	s := NewServer(ServerOptions{})
	s.Registry().MustRegister(NewBayeuxCollector(stats))
	in.Store(5)

	want := `
# HELP chatgate_bayeux_connections Bayeux connections open now (held long-polls, open websockets) by transport.
# TYPE chatgate_bayeux_connections gauge
chatgate_bayeux_connections{transport="callback-polling"} 0
chatgate_bayeux_connections{transport="long-polling"} 1
chatgate_bayeux_connections{transport="websocket"} 2
# HELP chatgate_bayeux_messages_in_total Bayeux messages received from clients.
# TYPE chatgate_bayeux_messages_in_total counter
chatgate_bayeux_messages_in_total 5
# HELP chatgate_bayeux_messages_out_total Bayeux messages sent to clients.
# TYPE chatgate_bayeux_messages_out_total counter
chatgate_bayeux_messages_out_total 9
# HELP chatgate_bayeux_queue_drops_total Messages dropped because a session queue was full.
# TYPE chatgate_bayeux_queue_drops_total counter
chatgate_bayeux_queue_drops_total 1
# HELP chatgate_bayeux_queued_bytes Encoded bytes waiting for Bayeux clients (session queues, unacknowledged messages, unsent websocket frames).
# TYPE chatgate_bayeux_queued_bytes gauge
chatgate_bayeux_queued_bytes 4096
# HELP chatgate_bayeux_refusals_total Requests refused by a Bayeux abuse limit (docs/operations.md, Limits and abuse), by reason.
# TYPE chatgate_bayeux_refusals_total counter
chatgate_bayeux_refusals_total{reason="browser_sessions"} 0
chatgate_bayeux_refusals_total{reason="handshake_rate"} 7
# HELP chatgate_bayeux_subscriptions Bayeux subscriptions of all live sessions (service-channel subscriptions are not recorded).
# TYPE chatgate_bayeux_subscriptions gauge
chatgate_bayeux_subscriptions 11
# HELP chatgate_bayeux_sessions Live Bayeux sessions (handshaken, not yet disconnected or expired).
# TYPE chatgate_bayeux_sessions gauge
chatgate_bayeux_sessions 3
`
	ts := httptest.NewServer(s)
	defer ts.Close()
	_, body := get(t, ts.URL+MetricsPath)
	for line := range strings.SplitSeq(strings.TrimSpace(want), "\n") {
		if !strings.Contains("\n"+body, "\n"+line+"\n") {
			t.Errorf("/metrics lacks line %q", line)
		}
	}

	// A fresh snapshot on every scrape.
	in.Store(6)
	_, body = get(t, ts.URL+MetricsPath)
	if !strings.Contains(body, "\nchatgate_bayeux_messages_in_total 6\n") {
		t.Fatalf("scrape did not read a fresh snapshot:\n%s", body)
	}
}
