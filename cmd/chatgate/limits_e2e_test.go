package main

import (
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 7 item 3 against the real binary: a customer sending the largest messages until the
// chat's transcript limit answers 413 code 404 (nothing of the refused message stored), then
// a refresh from position 1 answers one bounded page with nextPosition at its end, and the
// client pages through the whole transcript.
func TestGMSRESTTranscriptLimitAndPagedRefresh(t *testing.T) {
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(),
		"--chat-max-transcript-bytes", "1600000", "--chat-event-rate", "10000", "--chat-event-burst", "10000")
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Ann"}})
	big := strings.Repeat("x", 16<<10)
	sent := 0
	var refused gmsResp
	for i := range 500 { // bounded: the limit stops it near 100
		r := c.op("send", "message", fmt.Sprintf("%04d%s", i, big[4:]), "transcriptPosition", "0")
		if r.HTTP != 200 {
			refused = r
			break
		}
		sent++
	}
	if refused.HTTP != 413 || refused.errCode() != 404 || sent < 80 || sent > 100 {
		t.Fatalf("after %d messages: %+v", sent, refused)
	}
	total := int64(1 + sent)
	first := c.refresh(1)
	if n := int64(len(first.Messages)); n == 0 || n >= total || *first.NextPosition != first.Messages[n-1].Index+1 {
		t.Fatalf("first page: %d of %d events, nextPosition %d", n, total, *first.NextPosition)
	}
	size := 0
	for _, m := range first.Messages {
		size += len(m.Text)
	}
	if size > 1<<20 {
		t.Fatalf("first page carries %d bytes of text", size)
	}
	var got []int64
	for from := int64(1); ; {
		r := c.refresh(from)
		for _, m := range r.Messages {
			got = append(got, m.Index)
		}
		if *r.NextPosition == from {
			t.Fatalf("no progress at %d", from)
		}
		from = *r.NextPosition
		if from > total {
			break
		}
	}
	if int64(len(got)) != total {
		t.Fatalf("paged through %d events, want %d", len(got), total)
	}
	for i, idx := range got {
		if idx != int64(i+1) {
			t.Fatalf("event %d has index %d", i, idx)
		}
	}
	// Full, the chat still ends.
	if r := c.op("disconnect"); r.HTTP != 200 || !r.ChatEnded {
		t.Fatalf("disconnect from a full chat: %+v", r)
	}
	_, metrics := httpGet(t, p.url("/metrics"))
	for sample, want := range map[string]string{
		`chatgate_chat_limit_refusals_total{limit="transcript_full"}`: "1",
		`chatgate_store_quota_bytes{part="transcripts"}`:              "2.147483648e+09",
		`chatgate_store_quota_refusals_total`:                         "0",
	} {
		if v, ok := metricValue(metrics, sample); !ok || v != want {
			t.Errorf("%s = %q (present %v), want %s", sample, v, ok, want)
		}
	}
	if v, ok := metricValue(metrics, `chatgate_store_bytes{part="transcripts"}`); !ok || v == "0" {
		t.Errorf("store bytes %q (present %v)", v, ok)
	}
}

// A participant adding events faster than chat-event-rate gets 429 code 500 and nothing is
// committed; typing counts.
func TestGMSRESTEventRateLimit(t *testing.T) {
	// 1 event/s with bursts of 3: the 10 requests below would need 7 s to stay under it.
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--chat-event-rate", "1", "--chat-event-burst", "3")
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Ann"}})
	ok, limited := 0, 0
	for i := range 10 {
		op, field := "send", "message"
		if i%2 == 1 {
			op, field = "startTyping", ""
		}
		r := c.op(op, field, "hi", "transcriptPosition", "0")
		switch {
		case r.HTTP == 200:
			ok++
		case r.HTTP == 429 && r.errCode() == 500:
			limited++
		default:
			t.Fatalf("%s: %+v", op, r)
		}
	}
	if limited == 0 || ok < 3 || ok > 6 {
		t.Fatalf("%d accepted, %d limited", ok, limited)
	}
	if all := c.refresh(1); int64(len(all.Messages)) != int64(1+ok) {
		t.Fatalf("transcript holds %d events after %d accepted", len(all.Messages), ok)
	}
	_, metrics := httpGet(t, p.url("/metrics"))
	if v, _ := metricValue(metrics, `chatgate_chat_limit_refusals_total{limit="event_rate"}`); v != fmt.Sprint(limited) {
		t.Fatalf("event_rate refusals %q, want %d", v, limited)
	}
}

// Issue 7 item 5 against the real binary: chats created with large userData and then ended
// leave the server's memory (chatgate_chatcore_chats_in_memory back to the live ones), are
// not loaded again after a restart, and an ended chat still answers refresh with its
// transcript and chatEnded. userData over the per-chat total is refused.
func TestGMSRESTEndedChatsLeaveMemory(t *testing.T) {
	data := t.TempDir()
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", data)
	inMemory := func(p *process) string {
		_, body := httpGet(t, p.url("/metrics"))
		v, _ := metricValue(body, "chatgate_chatcore_chats_in_memory")
		return v
	}
	const total, live = 60, 3
	var chats []*gmsChat
	for i := range total {
		form := url.Values{"nickname": {"Ann"}}
		for k := range 3 { // 3 × 16 KiB values: under the 64 KiB total
			form.Set(fmt.Sprintf("userData[k%d]", k), strings.Repeat("v", 16<<10-10)+fmt.Sprint(i))
		}
		c, _ := createChat(t, p, restSvc, form)
		chats = append(chats, c)
	}
	if got := inMemory(p); got != fmt.Sprint(total) {
		t.Fatalf("chats in memory after %d creations: %s", total, got)
	}
	// Two more 16 KiB values pass the 64 KiB total: refused.
	w := strings.Repeat("w", 16<<10)
	if r := chats[0].op("updateData", "userData[k3]", w, "userData[k4]", w); r.HTTP != 413 || r.errCode() != 401 {
		t.Fatalf("userData over the total: %+v", r)
	}
	for _, c := range chats[live:] {
		if r := c.op("disconnect"); r.HTTP != 200 || !r.ChatEnded {
			t.Fatalf("disconnect: %+v", r)
		}
	}
	if got := inMemory(p); got != fmt.Sprint(live) {
		t.Fatalf("chats in memory after ending %d: %s, want %d", total-live, got, live)
	}
	ended := chats[live]
	if r := ended.refresh(1); !r.ChatEnded || len(r.Messages) != 2 {
		t.Fatalf("refresh of an ended chat: %+v", r)
	}
	p.signal(syscall.SIGTERM)
	if code := p.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	q := startProcess(t, "--addr", "127.0.0.1:0", "--data", data)
	if got := inMemory(q); got != fmt.Sprint(live) {
		t.Fatalf("chats in memory after restart: %s, want %d", got, live)
	}
	ended.base = q.url("/genesys/2/chat/" + restSvc)
	if r := ended.refresh(1); !r.ChatEnded || len(r.Messages) != 2 || r.Messages[1].Type != "ParticipantLeft" {
		t.Fatalf("refresh of an ended chat after restart: %+v", r)
	}
	if r := ended.op("send", "message", "late"); r.HTTP != 200 || !r.ChatEnded {
		t.Fatalf("send to an ended chat after restart: %+v", r)
	}
	c := chats[0]
	c.base = ended.base
	if r := c.op("send", "message", "still here"); r.HTTP != 200 || r.ChatEnded {
		t.Fatalf("live chat after restart: %+v", r)
	}
}
