package main

import (
	"net/url"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// TestSweepStuckAndRetention runs the built-in stuck strategy and retention in the binary
// (stuck-strategy restore-and-route, retention 1s, sweep-interval 200ms). An async chat is
// alerted, then async-idle-close is raised by SIGHUP so the chat outlives its
// GCTI_Chat_AsyncCheckAt (stuck); the sweep restores it and gives it status 5 (routing offers
// it). A chat the customer ended is purged after the retention: it then answers the customer
// exactly like a chat that never existed, and the workflow API no longer knows it.
func TestSweepStuckAndRetention(t *testing.T) {
	const settings = `"session-restore-extend-by": "esp", "async-idle-alert": 2, "async-check-at-margin": 0, "flex-disconnect-timeout": 3600`
	cfg := writeConfig(t, `{"chat": {"settings": {`+settings+`, "async-idle-close": 6}}}`)
	env := []string{"CHATGATE_ADMIN_TOKEN=" + wfToken}
	p := startProcessEnv(t, env, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--config", cfg,
		"--stuck-strategy", "restore-and-route", "--retention", "1s", "--sweep-interval", "200ms")
	stuck, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Sam"}, "userData[GCTI_Chat_AsyncMode]": {"true"}})
	eventually(t, 15*time.Second, "the async idle alert", func() bool {
		code, s := wfInfo(t, p, "GET", "/chats/"+stuck.chatID)
		return code == 200 && s.Properties[chatcore.PropAsyncStatus] == "3"
	})
	_, alerted := wfInfo(t, p, "GET", "/chats/"+stuck.chatID)
	// The close is postponed past CheckAt: the chat is stuck once CheckAt passes.
	if err := os.WriteFile(cfg, []byte(`{"chat": {"settings": {`+settings+`, "async-idle-close": 3600}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	eventually(t, 5*time.Second, "options reloaded", func() bool {
		return strings.Contains(p.logText(), "chat options reloaded")
	})
	eventually(t, 20*time.Second, "the stuck chat restored and routed", func() bool {
		_, s := wfInfo(t, p, "GET", "/chats/"+stuck.chatID)
		return s.Restored
	})
	_, s := wfInfo(t, p, "GET", "/chats/"+stuck.chatID)
	if s.Ended || s.RestoredBy != "esp" || s.Properties[chatcore.PropAsyncStatus] != "5" ||
		s.Properties[chatcore.PropAsyncCheckAt] <= alerted.Properties[chatcore.PropAsyncCheckAt] {
		t.Fatalf("after the sweep: %+v (alerted: %+v)", s, alerted)
	}
	if !strings.Contains(p.logText(), "sweep: stuck chat handled") {
		t.Fatal("no log of the handled chat")
	}

	// Retention: an ended chat is purged; the live one stays.
	gone, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Gil"}})
	if r := gone.op("send", "message", "bye"); r.HTTP != 200 || r.StatusCode != 0 {
		t.Fatalf("send: %+v", r)
	}
	if r := gone.op("disconnect"); r.HTTP != 200 || r.StatusCode != 0 {
		t.Fatalf("disconnect: %+v", r)
	}
	if r := gone.op("refresh", "transcriptPosition", "1"); r.HTTP != 200 || !r.ChatEnded {
		t.Fatalf("ended chat before the retention: %+v", r)
	}
	eventually(t, 20*time.Second, "the ended chat purged", func() bool {
		code, _ := wfCall(t, p, "GET", "/chats/"+gone.chatID, wfToken)
		return code == 404
	})
	never := *gone
	never.chatID = "NeverExisted0123"
	want := never.op("refresh", "transcriptPosition", "1")
	got := gone.op("refresh", "transcriptPosition", "1")
	if got.HTTP != want.HTTP || !reflect.DeepEqual(got.Errors, want.Errors) || got.HTTP == 200 {
		t.Fatalf("purged chat answers %+v, a chat that never existed %+v", got, want)
	}
	if code, _ := wfCall(t, p, "GET", "/chats/"+stuck.chatID, wfToken); code != 200 {
		t.Fatalf("live chat after the retention pass: %d", code)
	}
}
