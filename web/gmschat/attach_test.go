package gmschat

import (
	"errors"
	"sync"
	"testing"
)

func TestAttachIndex(t *testing.T) {
	x := newAttachIndex(2)
	for _, s := range []string{"s1", "s2"} {
		a, err := x.attach(s, "c1", "u1", "svc", "key", 0)
		if err != nil {
			t.Fatal(err)
		}
		a.release()
	}
	if _, err := x.attach("s3", "c1", "u1", "svc", "key", 0); !errors.Is(err, errTooManySessions) {
		t.Fatalf("third session: %v", err)
	}
	if got := len(x.chat("c1")); got != 2 {
		t.Fatalf("chat c1 has %d sessions", got)
	}
	// Moving s2 to another chat frees a slot in c1.
	a2, err := x.attach("s2", "c2", "u9", "svc", "key", 0)
	if err != nil {
		t.Fatal(err)
	}
	a2.release()
	if got := len(x.chat("c1")); got != 1 {
		t.Fatalf("after move chat c1 has %d sessions", got)
	}
	live := map[string]bool{"s1": false, "s2": true}
	isLive := func(id string) bool { return live[id] }
	if x.connected("c1", "u1", isLive) {
		t.Fatal("s1 is not live, c1/u1 must not be connected")
	}
	live["s1"] = true
	if !x.connected("c1", "u1", isLive) || x.connected("c1", "u2", isLive) {
		t.Fatal("connected answers wrong user")
	}
	if a, ok := x.detach("s1"); !ok || a.chatID != "c1" {
		t.Fatalf("detach s1: %v %v", a, ok)
	}
	if _, ok := x.detach("s1"); ok {
		t.Fatal("double detach")
	}
	if len(x.chat("c1")) != 0 || x.len() != 1 {
		t.Fatalf("index not cleaned: %d", x.len())
	}
	if _, ok := x.byChat["c1"]; ok {
		t.Fatal("empty chat set kept")
	}
}

// TestAttachmentDeliverOrder checks that a replay and live events racing on one session push
// each index once, in increasing order.
func TestAttachmentDeliverOrder(t *testing.T) {
	a := &attachment{}
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(1); i <= 200; i++ {
				if (i+int64(w))%4 == 0 {
					continue
				}
				_, _ = a.deliver(i, func() error {
					mu.Lock()
					got = append(got, i)
					mu.Unlock()
					return nil
				})
			}
		}()
	}
	wg.Wait()
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("pushed %d after %d", got[i], got[i-1])
		}
	}
	if n, _ := a.deliver(0, func() error { return nil }); !n {
		t.Fatal("an answer without events must always be pushed")
	}
	if pushed, err := a.deliver(500, func() error { return errors.New("gone") }); pushed || err == nil || a.delivered != 200 {
		t.Fatalf("failed push must not advance: %v %v %d", pushed, err, a.delivered)
	}
}

// TestAttachHoldsLiveEvents checks that a live event arriving during the replay waits for it
// and is then pushed exactly once after the replayed range.
func TestAttachHoldsLiveEvents(t *testing.T) {
	x := newAttachIndex(4)
	a, err := x.attach("s1", "c1", "u1", "svc", "key", 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []int64
	record := func(i int64) func() error {
		return func() error { mu.Lock(); got = append(got, i); mu.Unlock(); return nil }
	}
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		close(started)
		live, _ := x.session("s1")
		for _, i := range []int64{5, 6} { // 5 is covered by the replay, 6 is new
			_, _ = live.deliver(i, record(i))
		}
	}()
	<-started
	if err := a.pushHeld(5, record(5)); err != nil { // the replay of 1..5
		t.Fatal(err)
	}
	a.release()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != 5 || got[1] != 6 {
		t.Fatalf("pushed %v, want [5 6]", got)
	}
}
