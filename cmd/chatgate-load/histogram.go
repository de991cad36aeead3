package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Latencies are recorded in microseconds into log-linear buckets: 2^subBits buckets per power
// of two, so every bucket spans at most 1/64 (1.6 %) of its value. Counts are atomics so that
// thousands of receiving goroutines record without a lock, and histograms from several
// processes merge by adding counts.
const (
	subBits    = 6
	subBuckets = 1 << subBits
	// Values up to 2^40 µs (~12.7 days) fit; larger ones land in the last bucket.
	maxExp     = 40
	numBuckets = (maxExp - subBits + 1) * subBuckets
)

// Histogram is a concurrent latency histogram.
type Histogram struct {
	counts [numBuckets]atomic.Int64
	max    atomic.Int64 // µs
	n      atomic.Int64
}

// bucketOf maps a value (µs, ≥ 0) to its bucket index.
func bucketOf(v int64) int {
	if v < subBuckets {
		return int(v)
	}
	exp := bits.Len64(uint64(v)) - 1 // v in [2^exp, 2^(exp+1))
	shift := exp - subBits
	idx := (shift+1)*subBuckets + int((uint64(v)>>uint(shift))-subBuckets)
	if idx >= numBuckets {
		return numBuckets - 1
	}
	return idx
}

// bucketUpper is the largest value that maps to bucket i.
func bucketUpper(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	shift := i/subBuckets - 1
	mant := int64(i%subBuckets + subBuckets)
	return ((mant + 1) << uint(shift)) - 1
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[bucketOf(us)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			break
		}
	}
}

// Count is the number of recorded values.
func (h *Histogram) Count() int64 { return h.n.Load() }

// Max is the largest recorded value (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// Quantile returns the smallest bucket bound below which a fraction q of the values lie
// (an upper estimate within one bucket width, capped at the exact maximum).
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := bucketUpper(i)
			if m := h.max.Load(); v > m {
				v = m
			}
			return time.Duration(v) * time.Microsecond
		}
	}
	return h.Max()
}

// Merge adds o's counts into h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	for {
		m, om := h.max.Load(), o.max.Load()
		if om <= m || h.max.CompareAndSwap(m, om) {
			break
		}
	}
}

// HistogramJSON is the wire form used between processes: sparse bucket counts.
type HistogramJSON struct {
	Buckets map[int]int64 `json:"buckets"`
	MaxUS   int64         `json:"max_us"`
}

// Export returns the sparse form.
func (h *Histogram) Export() HistogramJSON {
	out := HistogramJSON{Buckets: map[int]int64{}, MaxUS: h.max.Load()}
	for i := range h.counts {
		if c := h.counts[i].Load(); c != 0 {
			out.Buckets[i] = c
		}
	}
	return out
}

// Import adds a sparse histogram into h; out-of-range buckets are clamped to the last one.
func (h *Histogram) Import(j HistogramJSON) {
	for i, c := range j.Buckets {
		if i < 0 || c <= 0 {
			continue
		}
		if i >= numBuckets {
			i = numBuckets - 1
		}
		h.counts[i].Add(c)
		h.n.Add(c)
	}
	for {
		m := h.max.Load()
		if j.MaxUS <= m || h.max.CompareAndSwap(m, j.MaxUS) {
			break
		}
	}
}
