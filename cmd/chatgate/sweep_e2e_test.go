package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
)

// TestSweepStuckAndRetention runs the built-in stuck strategy and retention in the binary
// (stuck-strategy restore-and-route, retention 1s, sweep-interval 200ms). A chat the customer
// ended is purged after the retention: it then answers the customer exactly like a chat that
// never existed, and the workflow API no longer knows it; its transcript was exported to
// retention-export-dir first, and the metrics count both. Then an async chat is alerted and
// the store refuses its close (the transcripts are at store-max-transcript-bytes), so the
// chat outlives its GCTI_Chat_AsyncCheckAt (stuck); the sweep restores it, which needs no
// transcript write, and gives it status 5 (routing offers it).
func TestSweepStuckAndRetention(t *testing.T) {
	const settings = `"session-restore-extend-by": "esp", "async-idle-alert": 3, "async-idle-close": 4, "async-check-at-margin": 0, "flex-disconnect-timeout": 3600`
	cfg := writeConfig(t, `{"chat": {"settings": {`+settings+`}}}`)
	env := []string{"CHATGATE_ADMIN_TOKEN=" + wfToken}
	exports := filepath.Join(t.TempDir(), "exports") // created by the binary
	p := startProcessEnv(t, env, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--config", cfg,
		"--stuck-strategy", "restore-and-route", "--retention", "1s", "--sweep-interval", "200ms",
		"--store-max-transcript-bytes", "16384", "--retention-export-dir", exports)

	// Retention: an ended chat is purged.
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
	// Exported before the purge: the customer's message and the end are in the file, which
	// ends with the trailer; the metrics count it.
	raw, err := os.ReadFile(filepath.Join(exports, gone.chatID+".ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if !strings.Contains(string(raw), `"text":"bye"`) || !strings.Contains(string(raw), `"type":"ParticipantLeft"`) ||
		lines[len(lines)-1] != `{"v":1,"kind":"end","records":`+strconv.Itoa(len(lines)-1)+`,"truncated":false,"nextSeq":0}` {
		t.Fatalf("export:\n%s", raw)
	}
	// The purge is visible (404) a moment before the sweeper counts it.
	for _, m := range []string{"chatgate_retention_exported_total 1", "chatgate_retention_purged_total 1", "chatgate_retention_export_failures_total 0"} {
		eventually(t, 5*time.Second, "metric "+m, func() bool {
			_, metrics := httpGet(t, p.url("/metrics"))
			return strings.Contains(metrics, m+"\n")
		})
	}

	// Stuck: alerted, then the transcripts fill up (another chat's messages) before the close.
	stuck, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Sam"}, "userData[GCTI_Chat_AsyncMode]": {"true"}})
	filler, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Fil"}})
	eventually(t, 15*time.Second, "the async idle alert", func() bool {
		code, s := wfInfo(t, p, "GET", "/chats/"+stuck.chatID)
		return code == 200 && s.Properties[chatcore.PropAsyncStatus] == "3"
	})
	_, alerted := wfInfo(t, p, "GET", "/chats/"+stuck.chatID)
	// Ever smaller messages until even the smallest is refused: too little room is left
	// for the close (its notice and the customer's removal).
	for _, n := range []int{2000, 200, 1} {
		msg := strings.Repeat("x", n)
		eventually(t, 20*time.Second, fmt.Sprintf("the transcripts full for %d bytes", n), func() bool {
			return filler.op("send", "message", msg).HTTP == 503
		})
	}
	eventually(t, 20*time.Second, "the stuck chat restored and routed", func() bool {
		_, s := wfInfo(t, p, "GET", "/chats/"+stuck.chatID)
		return s.Restored
	})
	_, s := wfInfo(t, p, "GET", "/chats/"+stuck.chatID)
	if s.Ended || s.RestoredBy != "esp" || s.Properties[chatcore.PropAsyncStatus] != "5" ||
		s.Properties[chatcore.PropAsyncCheckAt] <= alerted.Properties[chatcore.PropAsyncCheckAt] {
		t.Fatalf("after the sweep: %+v (alerted: %+v)", s, alerted)
	}
	for _, line := range []string{"sweep: stuck chat handled", "chatcore: timer action failed"} {
		eventually(t, 5*time.Second, "log line "+line, func() bool { return strings.Contains(p.logText(), line) })
	}
}
