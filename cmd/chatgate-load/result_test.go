package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestMergeAddsCountsAndKeepsSlowestTimes(t *testing.T) {
	var h1, h2 Histogram
	for i := range 100 {
		h1.Record(time.Duration(i) * time.Millisecond)
		h2.Record(time.Duration(100+i) * time.Millisecond)
	}
	a := Result{Mode: "latency", Transport: "websocket", Clients: 10, Publishers: 1, Channels: 5,
		Opened: 10, OpenSeconds: 2, Published: 100, PublishAcked: 100, Delivered: 100, Expected: 100,
		RunSeconds: 10, Latency: h1.Export(), Events: map[string]int64{"connect": 3}, Errors: []string{"x"}}
	b := Result{Mode: "latency", Transport: "websocket", Clients: 10, Publishers: 1, Channels: 5,
		Opened: 9, OpenFailed: 1, OpenSeconds: 3, Published: 100, PublishAcked: 99, PublishFailed: 1,
		Delivered: 98, Expected: 100, RunSeconds: 10.5, Latency: h2.Export(),
		Events: map[string]int64{"connect": 4, "rehandshake": 1}, Errors: []string{"x", "y"}}
	var m Result
	m.Merge(a)
	m.Merge(b)
	if m.Clients != 20 || m.Publishers != 2 || m.Opened != 19 || m.OpenFailed != 1 || m.Delivered != 198 ||
		m.Expected != 200 || m.Published != 200 || m.PublishFailed != 1 {
		t.Fatalf("counts not added: %+v", m)
	}
	if m.OpenSeconds != 3 || m.RunSeconds != 10.5 {
		t.Fatalf("times: open %v run %v", m.OpenSeconds, m.RunSeconds)
	}
	if m.Events["connect"] != 7 || m.Events["rehandshake"] != 1 {
		t.Fatalf("events %v", m.Events)
	}
	if len(m.Errors) != 2 {
		t.Fatalf("errors deduplicated: %v", m.Errors)
	}
	s := Summarize(m)
	// 200 values 0..199 ms: the median is ~99 ms, p99 ~198 ms (within a bucket), max 199 ms.
	if s.P50ms < 99 || s.P50ms > 101 || s.P99ms < 197 || s.P99ms > 199.1 || s.MaxMS != 199 {
		t.Fatalf("percentiles p50 %v p99 %v max %v", s.P50ms, s.P99ms, s.MaxMS)
	}
	if got := s.DeliveredPerSec; got < 18.8 || got > 18.9 {
		t.Fatalf("delivered/s %v, want 198/10.5", got)
	}
	if s.LossRatio < 0.0099 || s.LossRatio > 0.0101 {
		t.Fatalf("loss %v", s.LossRatio)
	}
	var buf bytes.Buffer
	s.Print(&buf)
	for _, want := range []string{"delivered 198 of 200", "p50", "rehandshake=1", "error: y"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, buf.String())
		}
	}
}
