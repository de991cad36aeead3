package gmschat

import (
	"testing"

	"github.com/chatgate/chatgate/chatcore"
)

// TestCometDTypingFloodRateLimited is the typing part of issue 7 item 3 over CometD: a
// customer publishing startTyping as fast as it can is refused by chatcore's per-participant
// event rate (chat-event-rate) after the burst, with a retryable error push (statusCode 1,
// code 500) that still carries its keys, and nothing beyond the burst is committed.
func TestCometDTypingFloodRateLimited(t *testing.T) {
	const burst = 5
	// 0.001 events/s: no token comes back during the test.
	r := startRigLimits(t, Options{}, chatcore.Limits{EventRate: 0.001, EventBurst: burst})
	chat := r.createChat("Ann")
	c := r.comet()
	c.handshake()
	const flood = 3 * burst
	for range flood {
		if _, err := c.publish(map[string]any{"operation": "startTyping", "secureKey": chat.secureKey, "message": "h"}); err != nil {
			t.Fatal(err)
		}
	}
	answers := 0
	limited := 0
	for answers < flood {
		p := c.awaitPush(func(p map[string]any) bool { return len(pushIndexes(p)) == 0 }) // answers, not live events
		answers++
		switch p["statusCode"] {
		case float64(0):
		case float64(1):
			if string(mustJSON(t, p["errors"])) != `[{"advice":"too many events in this chat, slow down","code":500}]` {
				t.Fatalf("rate-limited push: %v", p)
			}
			checkOwn(t, "rate-limited push", p, chat)
			limited++
		default:
			t.Fatalf("startTyping answered %v", p)
		}
	}
	if limited != flood-burst {
		t.Fatalf("%d of %d typing notices refused, want %d", limited, flood, flood-burst)
	}
	a := r.mustPost(chat.path("refresh"), "", chat.cred())
	typing := 0
	for _, m := range a.messages() {
		if m["type"] == "TypingStarted" {
			typing++
		}
	}
	if typing != burst {
		t.Fatalf("%d TypingStarted committed, want %d: %s", typing, burst, a.raw)
	}
}
