package routing

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestCollector scrapes a registry with the router's collector after real routing: queue
// lengths, agents by state, offers and their outcomes, time to accept.
func TestCollector(t *testing.T) {
	h := newHarness(t, nil)
	c1 := h.chat("sales", nil).ChatID
	h.clock.Advance(time.Second)
	h.chat("sales", nil)
	h.login("a", 1, "sales")
	h.login("b", 1, "sales")
	h.state("a", StateReady)
	h.wantOffered("a", c1)
	h.advance(2 * time.Second)
	if _, _, err := h.r.Accept(context.Background(), "a", c1); err != nil {
		t.Fatal(err)
	}
	h.r.settle()

	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(h.r))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case m.GetGauge() != nil:
				got[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
				got[key+"_sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	want := map[string]float64{
		"chatgate_routing_queue_waiting{queue=sales}":             1,
		"chatgate_routing_queue_offered{queue=sales}":             0,
		"chatgate_routing_queue_oldest_wait_seconds{queue=sales}": 2,
		"chatgate_routing_agents{state=ready}":                    1,
		"chatgate_routing_agents{state=not-ready}":                1,
		"chatgate_routing_offers_total":                           1,
		"chatgate_routing_offer_outcomes_total{outcome=accepted}": 1,
		"chatgate_routing_offer_outcomes_total{outcome=timeout}":  0,
		"chatgate_routing_time_to_accept_seconds_count":           1,
		"chatgate_routing_time_to_accept_seconds_sum":             2,
		"chatgate_routing_wait_seconds_count":                     1,
		"chatgate_routing_handle_seconds_count":                   0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

// TestQueueLabelsBounded: customers naming 70 services make 70 queues; the metrics carry at
// most MaxQueueLabels queue labels (the rest summed under _other) and the queues leave
// memory once nobody waits in them.
func TestQueueLabelsBounded(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil)
	h.login("a", 0, "svc-served") // serves a queue: kept by name whatever its length
	var ids []string
	for i := range 70 {
		ids = append(ids, h.chat(fmt.Sprintf("svc-%02d", i), nil).ChatID)
	}
	h.r.settle()
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(h.r))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "chatgate_routing_queue_waiting" {
			continue
		}
		total, other, served := 0.0, 0.0, false
		for _, m := range mf.GetMetric() {
			total += m.GetGauge().GetValue()
			switch m.GetLabel()[0].GetValue() {
			case OtherQueue:
				other = m.GetGauge().GetValue()
			case "svc-served":
				served = true
			}
		}
		if n := len(mf.GetMetric()); n != MaxQueueLabels || total != 70 || other != 70-(MaxQueueLabels-2) || !served {
			t.Fatalf("%d queue labels, %v waiting, %v under _other, served queue kept %v", n, total, other, served)
		}
	}
	for _, id := range ids {
		if _, err := h.core.EndChat(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	h.r.settle()
	if n := len(h.r.Stats().Queues); n != 1 {
		t.Fatalf("%d queues left, want the served one", n)
	}
}
