package gmschat

import (
	"fmt"
	"testing"

	"github.com/chatgate/chatgate/chatcore"
)

// pushIndexes are the event indexes a push carries.
func pushIndexes(p map[string]any) []int {
	var out []int
	msgs, _ := p["messages"].([]any)
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		f, _ := mm["index"].(float64)
		out = append(out, int(f))
	}
	return out
}

// TestCometDReplayIsPaged is issue 7 item 3 on the CometD side: a requestNotifications replay
// of a long transcript answers one bounded page with nextPosition, pushes no more of the
// transcript (which would only overflow the session's Bayeux queue), and the client pages
// through the rest with the CometD refresh operation, while live events still arrive.
func TestCometDReplayIsPaged(t *testing.T) {
	const page = 10
	r := startRigLimits(t, Options{}, chatcore.Limits{MaxPageEvents: page, EventRate: 1000, EventBurst: 1000})
	chat := r.createChat("Ann")
	const sent = 34 // events 2..35
	for i := range sent {
		if a := r.mustPost(chat.path("send"), "", chat.cred()+fmt.Sprintf("&message=m%d&transcriptPosition=0", i)); a.status != 200 {
			t.Fatalf("send %d: %d %s", i, a.status, a.raw)
		}
	}
	c := r.comet()
	c.handshake()
	if _, err := c.publish(map[string]any{"operation": "requestNotifications", "secureKey": chat.secureKey, "transcriptPosition": "1"}); err != nil {
		t.Fatal(err)
	}
	first := c.awaitPush(func(map[string]any) bool { return true })
	if got := pushIndexes(first); len(got) != page || got[0] != 1 || got[page-1] != page || first["nextPosition"] != float64(page+1) {
		t.Fatalf("replay answered indexes %v nextPosition %v, want 1..%d and %d", got, first["nextPosition"], page, page+1)
	}
	// A live event: every push before it must not carry more of the old transcript.
	if a := r.mustPost(chat.path("send"), "", chat.cred()+"&message=live&transcriptPosition=0"); a.status != 200 {
		t.Fatalf("live send: %d %s", a.status, a.raw)
	}
	for _, p := range c.pushesUntil(func(p map[string]any) bool { return hasText(p, "live") }) {
		for _, i := range pushIndexes(p) {
			if i <= 1+sent {
				t.Fatalf("old event %d pushed after the cut replay: %v", i, p)
			}
		}
	}
	// Page through with CometD refresh from nextPosition.
	seen := pushIndexes(first)
	next := first["nextPosition"].(float64)
	for range 10 {
		if _, err := c.publish(map[string]any{"operation": "refresh", "secureKey": chat.secureKey, "transcriptPosition": next}); err != nil {
			t.Fatal(err)
		}
		p := c.awaitPush(func(p map[string]any) bool { return p["statusCode"] != float64(0) || len(pushIndexes(p)) > 0 })
		got := pushIndexes(p)
		if len(got) == 0 || len(got) > page {
			t.Fatalf("refresh from %v: %v", next, p)
		}
		seen = append(seen, got...)
		next = p["nextPosition"].(float64)
		if int(next) == sent+3 { // after the live event, index sent+2
			break
		}
	}
	if len(seen) != sent+2 {
		t.Fatalf("paged through %d events, want %d: %v", len(seen), sent+2, seen)
	}
	for i, idx := range seen {
		if idx != i+1 {
			t.Fatalf("paged indexes not contiguous at %d: %v", i, seen)
		}
	}
	// -N over more than a page answers the page from last-N+1, nextPosition where it stops.
	last := sent + 2
	a := r.mustPost(chat.path("refresh"), "", chat.cred()+"&transcriptPosition=-20")
	var got []int
	for _, m := range a.messages() {
		got = append(got, int(m["index"].(float64)))
	}
	if len(got) != page || got[0] != last-19 || a.body["nextPosition"] != float64(last-19+page) {
		t.Fatalf("refresh -20 with pages of %d: indexes %v, nextPosition %v", page, got, a.body["nextPosition"])
	}
}
