package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBoundsCoverEveryValue(t *testing.T) {
	for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 4095, 4096, 1 << 20, 1<<40 - 1} {
		i := bucketOf(v)
		if up := bucketUpper(i); up < v {
			t.Fatalf("value %d in bucket %d whose upper bound %d is below it", v, i, up)
		}
		if i > 0 {
			if prev := bucketUpper(i - 1); prev >= v {
				t.Fatalf("value %d in bucket %d but previous bucket already reaches %d", v, i, prev)
			}
		}
	}
}

func TestQuantilesMatchExactSortWithinBucketError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var exact []int64
	for range 100000 {
		// Log-uniform from 10 µs to 10 s, like real latencies.
		us := int64(10 * pow10(r.Float64()*6))
		exact = append(exact, us)
		h.Record(time.Duration(us) * time.Microsecond)
	}
	slices.Sort(exact)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := exact[int(q*float64(len(exact)))-1]
		got := h.Quantile(q).Microseconds()
		if got < want || float64(got-want) > float64(want)/subBuckets+1 {
			t.Errorf("q%.3f: got %d µs, exact %d µs (allowed +%.1f%%)", q, got, want, 100.0/subBuckets)
		}
	}
	if h.Max().Microseconds() != exact[len(exact)-1] {
		t.Errorf("max %v, want %d µs", h.Max(), exact[len(exact)-1])
	}
	if h.Count() != int64(len(exact)) {
		t.Errorf("count %d", h.Count())
	}
}

func pow10(x float64) float64 {
	v := 1.0
	for x >= 1 {
		v *= 10
		x--
	}
	// 10^x for x in [0,1) by a few terms of exp is not needed: linear interpolation in log space.
	return v * (1 + 9*x)
}

func TestMergeAndExportImportEqualOneHistogram(t *testing.T) {
	var a, b, all Histogram
	for i := range int64(5000) {
		d := time.Duration(i*37%20000) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var merged Histogram
	merged.Merge(&a)
	var viaJSON Histogram
	viaJSON.Import(b.Export())
	merged.Merge(&viaJSON)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 1} {
		if merged.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%v: merged %v, single %v", q, merged.Quantile(q), all.Quantile(q))
		}
	}
	if merged.Max() != all.Max() || merged.Count() != all.Count() {
		t.Errorf("max/count: merged %v/%d, single %v/%d", merged.Max(), merged.Count(), all.Max(), all.Count())
	}
}

func TestEmptyHistogram(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Max() != 0 || h.Count() != 0 {
		t.Fatal("empty histogram must report zeros")
	}
}

func TestImportClampsHostileBuckets(t *testing.T) {
	var h Histogram
	h.Import(HistogramJSON{Buckets: map[int]int64{-1: 5, numBuckets + 10: 2, 3: -4, 10: 1}, MaxUS: 99})
	if h.Count() != 3 {
		t.Fatalf("count %d, want 3 (negative index and count ignored, overflow clamped)", h.Count())
	}
}
