package jetstore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/internal/natsserver"
)

// pageAll reads a transcript from an index to its end in small pages, the way a caller
// pages through it (7 events or 2 KiB per page, so every test read crosses pages).
func pageAll(ctx context.Context, s *Store, chatID string, from int64) ([]RawEvent, error) {
	var out []RawEvent
	for {
		page, err := s.EventsPage(ctx, chatID, from, 7, 2<<10)
		if err != nil || len(page) == 0 {
			return out, err
		}
		out = append(out, page...)
		from = page[len(page)-1].Index + 1
	}
}

// Every page, by either strategy and from any index, is the exact run of events from that
// index cut at the first limit reached (at least one event), and no read returns more
// records than the page needs plus one: the memory of a read is bounded by the page, not by
// the transcript.
func TestEventsPageBoundsAndStrategies(t *testing.T) {
	ctx := context.Background()
	c := startEngine(t, t.TempDir(), natsserver.SyncBackground)
	s := openStore(t, c)
	// "long": 300 events in records of 1..4 events, sizes varying from 20 B to ~3 KiB,
	// interleaved with another chat so both read strategies have something to skip.
	want := map[int64]string{}
	idx := int64(0)
	for i := 0; idx < 300; i++ {
		n := int64(1 + i%4)
		evs := make([][]byte, n)
		for k := range evs {
			j := idx + int64(k) + 1
			body := fmt.Sprintf(`{"index":%d,"pad":%q}`, j, strings.Repeat("x", int(j*37%3000)))
			evs[k], want[j] = []byte(body), body
		}
		if err := s.AppendJSON(ctx, "long", idx, evs); err != nil {
			t.Fatal(err)
		}
		idx += n
		if err := s.AppendJSON(ctx, "noise", int64(i), [][]byte{ev(int64(i+1), "n")}); err != nil {
			t.Fatal(err)
		}
	}
	limits := []pageLimit{{1, 1 << 20}, {5, 1 << 20}, {50, 4 << 10}, {1000, 1}, {1000, 100 << 10}}
	for _, mode := range []string{"chain", "scan"} {
		s.tr.forceChain, s.tr.forceScan = mode == "chain", mode == "scan"
		for _, lim := range limits {
			for _, from := range []int64{-3, 0, 1, 2, 3, 150, 151, 298, 300, 301} {
				name := fmt.Sprintf("%s/%d-events-%d-bytes/from-%d", mode, lim.events, lim.bytes, from)
				recs, err := s.tr.readPage(ctx, "long", from, lim)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				page, err := s.EventsPage(ctx, "long", from, lim.events, lim.bytes)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				start := max(from, 1)
				if start > idx {
					if len(page) != 0 || len(recs) != 0 {
						t.Fatalf("%s: %d events past the end", name, len(page))
					}
					continue
				}
				// The expected page, computed from what was written.
				var exp []int64
				size := 0
				for j := start; j <= idx; j++ {
					if len(exp) == lim.events || len(exp) > 0 && size+len(want[j]) > lim.bytes {
						break
					}
					size += len(want[j])
					exp = append(exp, j)
				}
				if len(page) != len(exp) {
					t.Fatalf("%s: %d events, want %d", name, len(page), len(exp))
				}
				for i, e := range page {
					if e.Index != exp[i] || string(e.JSON) != want[exp[i]] {
						t.Fatalf("%s: event %d is %d %.40s", name, i, e.Index, e.JSON)
					}
				}
				// Records held: those spanning the page, plus at most one.
				spanned := 0
				for _, r := range recs {
					if r.last >= exp[0] && r.first <= exp[len(exp)-1] {
						spanned++
					}
				}
				if len(recs) > spanned+1 {
					t.Fatalf("%s: read %d records for a page spanning %d", name, len(recs), spanned)
				}
			}
		}
	}
	s.tr.forceChain, s.tr.forceScan = false, false
	all, err := pageAll(ctx, s, "long", 1)
	if err != nil || int64(len(all)) != idx {
		t.Fatalf("paging through: %d events, %v", len(all), err)
	}
	for _, bad := range [][2]int{{0, 10}, {10, 0}, {-1, -1}} {
		if _, err := s.EventsPage(ctx, "long", 1, bad[0], bad[1]); err == nil {
			t.Fatalf("page %v accepted", bad)
		}
	}
}
