package gmschat

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestAttachDisconnectStormKeepsServing is the attack of issue 7 item 1: from one
// long-polling clientId, 16 concurrent requestNotifications for one chat race a
// /meta/disconnect, round after round. A push failing because the session was just removed
// used to detach the session while holding the attachment's lock, while a concurrent attach
// held the index lock and waited for that attachment: both stuck, and with them every
// later chat event (the core's listener waits on the index), so REST create and send hung
// for good. After the storm REST must still answer within a deadline.
func TestAttachDisconnectStormKeepsServing(t *testing.T) {
	r := startRig(t, Options{})
	chat := r.createChat("Ann")

	// Short timeouts: on the old code a round deadlocks, its requests never answer, and the
	// REST probe after it is what fails.
	r.http = &http.Client{Timeout: 5 * time.Second}
	const rounds, parallel = 25, 16
	for round := range rounds {
		c := r.comet()
		c.http.Timeout = 5 * time.Second
		c.handshake()
		var wg sync.WaitGroup
		for range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Errors are expected: the session disappears under the requests.
				_, _ = c.publish(map[string]any{"operation": "requestNotifications", "secureKey": chat.secureKey, "transcriptPosition": 1})
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.send(map[string]any{"channel": "/meta/disconnect"})
		}()
		wg.Wait()
		// The index must still be usable: REST create and send answer within the deadline
		// (a new chat each round: chatcore rate-limits events per participant).
		a, err := r.post(RESTPrefix+rigService, "", "nickname=Bo")
		if err != nil || a.status != 200 {
			t.Fatalf("round %d: create after the storm: %v %d %s", round, err, a.status, a.raw)
		}
		bo := restChat{id: a.str("chatId"), secureKey: a.str("secureKey")}
		if a, err := r.post(bo.path("send"), "", bo.cred()+"&message=still+there"); err != nil || a.status != 200 {
			t.Fatalf("round %d: send after the storm: %v %d %s", round, err, a.status, a.raw)
		}
	}
	if a, err := r.post(chat.path("send"), "", chat.cred()+"&message=still+there"); err != nil || a.status != 200 {
		t.Fatalf("send to the stormed chat: %v %d %s", err, a.status, a.raw)
	}
	if n := r.adapter.idx.len(); n != 0 {
		t.Fatalf("%d sessions still attached after every session disconnected", n)
	}
}
