package main

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestChatMetricsAndLogOfTheBinary drives one chat over the GMS REST API of the real binary
// and reads the chat figures from /metrics and the created / ended lines from its log.
func TestChatMetricsAndLogOfTheBinary(t *testing.T) {
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir())
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Ann"}})
	if r := c.op("send", "message", "a private text"); r.HTTP != 200 || r.StatusCode != 0 {
		t.Fatalf("send: %+v", r)
	}
	sample := func(s string) string {
		_, body := httpGet(t, p.url("/metrics"))
		v, _ := metricValue(body, s)
		return v
	}
	for s, want := range map[string]string{
		`chatgate_chat_created_total{service="` + restSvc + `"}`:                 "1",
		`chatgate_chat_open{async_status="sync",service="` + restSvc + `"}`:      "1",
		`chatgate_chat_messages_total{direction="in",service="` + restSvc + `"}`: "1",
		`chatgate_chat_timers_armed`:                                             "1",
		`chatgate_chat_pushes_total{outcome="notified"}`:                         "0",
		// The event feed: the customer's join and the message, no stream open.
		`chatgate_feed_records_total{kind="event"}`: "2",
		`chatgate_feed_stream_clients`:              "0",
		`chatgate_feed_record_failures_total`:       "0",
	} {
		if got := sample(s); got != want {
			t.Errorf("%s = %q, want %s", s, got, want)
		}
	}
	if r := c.op("disconnect"); r.HTTP != 200 || r.StatusCode != 0 {
		t.Fatalf("disconnect: %+v", r)
	}
	if got := sample(`chatgate_chat_ended_total{reason="customer_left",service="` + restSvc + `"}`); got != "1" {
		t.Errorf("ended_total = %q, want 1", got)
	}
	if got := sample(`chatgate_chat_open{async_status="sync",service="` + restSvc + `"}`); got != "0" {
		t.Errorf("open after the end = %q, want 0", got)
	}
	eventually(t, 5*time.Second, "chat ended log line", func() bool {
		return strings.Contains(p.logText(), `msg="chat ended" component=chat chat=`+c.chatID)
	})
	logs := p.logText()
	if !strings.Contains(logs, `msg="chat created" component=chat chat=`+c.chatID+` service=`+restSvc) ||
		!strings.Contains(logs, "reason=customer_left") {
		t.Errorf("log lacks the created / ended lines:\n%s", logs)
	}
	for _, secret := range []string{c.secureKey, "a private text"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
}
