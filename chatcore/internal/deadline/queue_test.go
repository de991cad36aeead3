package deadline

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestQueueOrderMoveRemove(t *testing.T) {
	q := New()
	q.Set("a", at(30))
	q.Set("b", at(10))
	q.Set("c", at(20))
	q.Set("a", at(5))  // move earlier
	q.Set("c", at(40)) // move later
	q.Remove("b")
	q.Remove("zz")
	if n, _ := q.Next(); !n.Equal(at(5)) {
		t.Fatalf("next = %v", n)
	}
	if got := q.PopDue(at(4), 0); len(got) != 0 {
		t.Fatalf("nothing due yet, got %v", got)
	}
	if got := q.PopDue(at(40), 0); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("due = %v", got)
	}
	if q.Len() != 0 {
		t.Fatal("queue not empty")
	}
	if _, ok := q.Next(); ok {
		t.Fatal("Next on empty queue")
	}
}

func TestQueueRandomAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	q := New()
	model := map[string]time.Time{}
	for i := range 20000 {
		k := fmt.Sprint(r.IntN(200))
		switch r.IntN(4) {
		case 0, 1:
			d := at(r.IntN(1000))
			q.Set(k, d)
			model[k] = d
		case 2:
			q.Remove(k)
			delete(model, k)
		case 3:
			now := at(r.IntN(1000))
			got := q.PopDue(now, 0)
			var want []string
			for mk, md := range model {
				if !md.After(now) {
					want = append(want, mk)
				}
			}
			for j := 1; j < len(got); j++ {
				a, b := model[got[j-1]], model[got[j]]
				if b.Before(a) {
					t.Fatalf("step %d: out of order", i)
				}
			}
			for _, g := range got {
				delete(model, g)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: due %v, want %v", i, got, want)
			}
		}
		if q.Len() != len(model) {
			t.Fatalf("step %d: len %d want %d", i, q.Len(), len(model))
		}
	}
}

func TestPopDueMax(t *testing.T) {
	q := New()
	for i := range 10 {
		q.Set(fmt.Sprint(i), at(i))
	}
	if got := q.PopDue(at(100), 3); len(got) != 3 || got[0] != "0" {
		t.Fatalf("got %v", got)
	}
	if d, ok := q.Get("5"); !ok || !d.Equal(at(5)) {
		t.Fatal("Get")
	}
}
