package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/workflow"
)

const wfToken = "e2e-workflow-token-0123456789"

// wfCall calls the workflow API of p with the admin token (or without, when token is "").
func wfCall(t *testing.T, p *process, method, path, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, p.url(WorkflowPrefix+path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// wfInfo reads a chat's session info through the workflow API.
func wfInfo(t *testing.T, p *process, method, path string) (int, workflow.SessionInfo) {
	t.Helper()
	code, b := wfCall(t, p, method, path, wfToken)
	var s workflow.SessionInfo
	if code == 200 {
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return code, s
}

// TestWorkflowRestoreAfterSIGKILL is chatgate's version of the original's session
// restoration test (async-chat.md §5), against the real binary. An async chat gets its idle
// alert (status 3, GCTI_Chat_AsyncCheckAt set), the server is killed and restarted before
// the close is due; the chat is back by itself (chats are durable), and the workflow then
// restores it through /workflow/v1: it is marked restored, its pending close is replaced by
// fresh idle timers and CheckAt moves on. The customer resumes over REST with the full
// transcript and sends again; the restoration survives another SIGKILL. A service whose
// session-restore-extend-by is none answers 409.
func TestWorkflowRestoreAfterSIGKILL(t *testing.T) {
	const alert, idleClose = 2, 60 // seconds; the close must not come during the test
	cfg := writeConfig(t, fmt.Sprintf(`{
		"chat": {"settings": {"session-restore-extend-by": "esp", "async-idle-alert": %d, "async-idle-close": %d,
			"async-check-at-margin": 0, "flex-disconnect-timeout": 3600}},
		"chat.no-restore": {"settings": {"session-restore-extend-by": "none"}}
	}`, alert, idleClose))
	data := t.TempDir()
	env := []string{"CHATGATE_ADMIN_TOKEN=" + wfToken}
	p := startProcessEnv(t, env, "--addr", "127.0.0.1:0", "--data", data, "--config", cfg)
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Dee"}, "userData[GCTI_Chat_AsyncMode]": {"true"}})
	var sent []string
	for i := range 3 {
		msg := fmt.Sprintf("before the crash %d", i)
		if r := c.op("send", "message", msg, "transcriptPosition", "0"); r.HTTP != 200 || r.StatusCode != 0 {
			t.Fatalf("send %d: %+v", i, r)
		}
		sent = append(sent, msg)
	}
	// Unauthenticated calls are refused.
	if code, _ := wfCall(t, p, "GET", "/chats/"+c.chatID, ""); code != 401 {
		t.Fatalf("without token: %d", code)
	}
	// The idle alert: status 3 and CheckAt, as the workflow sees them.
	var before workflow.SessionInfo
	eventually(t, time.Duration(alert+10)*time.Second, "the async idle alert", func() bool {
		var code int
		code, before = wfInfo(t, p, "GET", "/chats/"+c.chatID)
		return code == 200 && before.Properties[chatcore.PropAsyncStatus] == "3"
	})
	checkAt := before.Properties[chatcore.PropAsyncCheckAt]
	if before.Ended || before.Restored || checkAt == "" || before.LastIndex != 5 {
		t.Fatalf("alerted chat: %+v", before)
	}

	p.signal(syscall.SIGKILL)
	p.waitExit(10 * time.Second)
	q := startProcessEnv(t, env, "--addr", p.addr, "--data", data, "--config", cfg)
	c.base = q.url("/genesys/2/chat/" + restSvc)

	// Back after the restart, still alerted, not restored, not due for a check yet.
	code, s := wfInfo(t, q, "GET", "/chats/"+c.chatID)
	if code != 200 || s.Ended || s.Restored || s.Properties[chatcore.PropAsyncStatus] != "3" || s.Properties[chatcore.PropAsyncCheckAt] != checkAt ||
		s.Properties[chatcore.PropIsOnline] != "true" || s.LastIndex != 5 {
		t.Fatalf("after the restart: %d %+v", code, s)
	}
	if code, b := wfCall(t, q, "GET", "/chats?checkDue=1", wfToken); code != 200 || !strings.Contains(string(b), `"chats":[]`) {
		t.Fatalf("check-due list: %d %s", code, b)
	}

	// The workflow restores the chat (ESP GetSessionInfo InduceRestore=true).
	restoredAt := time.Now()
	code, r := wfInfo(t, q, "POST", "/chats/"+c.chatID+"/restore")
	if code != 200 || !r.Restored || r.RestoredBy != "esp" || r.RestoredAt == nil || r.Ended ||
		r.Properties[chatcore.PropAsyncStatus] != "-2" || r.Properties[chatcore.PropAsyncCheckAt] <= checkAt {
		t.Fatalf("restore: %d %+v", code, r)
	}
	if d := r.RestoredAt.Sub(restoredAt); d < -time.Second || d > 10*time.Second {
		t.Fatalf("restoredAt %v, requested at %v", r.RestoredAt, restoredAt)
	}

	// The customer resumes over REST: the full transcript, then sends again.
	all := c.refresh(1)
	var msgs []string
	for _, m := range all.Messages {
		if m.Type == "Message" {
			msgs = append(msgs, m.Text)
		}
	}
	if strings.Join(msgs, "|") != strings.Join(sent, "|") || all.Messages[0].Type != "ParticipantJoined" ||
		all.Messages[4].Type != "Notice" || all.Messages[4].UserData["idle-control"] != "alert" || all.ChatEnded {
		t.Fatalf("transcript after the restoration: %v", all.types())
	}
	if r := c.op("send", "message", "after the restoration", "transcriptPosition", "0"); r.HTTP != 200 || r.StatusCode != 0 {
		t.Fatalf("send after the restoration: %+v", r)
	}
	if tail := c.refresh(*all.NextPosition); len(tail.Messages) == 0 || tail.Messages[0].Text != "after the restoration" {
		t.Fatalf("new message: %+v", tail.Messages)
	}

	// The restoration is stored: it survives another SIGKILL.
	q.signal(syscall.SIGKILL)
	q.waitExit(10 * time.Second)
	q2 := startProcessEnv(t, env, "--addr", p.addr, "--data", data, "--config", cfg)
	if code, s := wfInfo(t, q2, "GET", "/chats/"+c.chatID); code != 200 || !s.Restored || s.RestoredBy != "esp" || !s.RestoredAt.Equal(*r.RestoredAt) || s.Ended {
		t.Fatalf("after the second restart: %d %+v", code, s)
	}

	// Refused: session-restore-extend-by none for this service; unknown chat.
	n, _ := createChat(t, q2, "no-restore", url.Values{"nickname": {"Eve"}, "userData[GCTI_Chat_AsyncMode]": {"true"}})
	if code, b := wfCall(t, q2, "POST", "/chats/"+n.chatID+"/restore", wfToken); code != 409 || !strings.Contains(string(b), `"code":"restore_not_allowed"`) {
		t.Fatalf("restore with extend-by none: %d %s", code, b)
	}
	if code, s := wfInfo(t, q2, "GET", "/chats/"+n.chatID); code != 200 || s.Restored {
		t.Fatalf("refused restore changed the chat: %d %+v", code, s)
	}
	if code, _ := wfCall(t, q2, "POST", "/chats/nosuchchat000000/restore", wfToken); code != 404 {
		t.Fatalf("unknown chat: %d", code)
	}
	if strings.Contains(q2.logText(), wfToken) || strings.Contains(q.logText(), wfToken) {
		t.Fatal("admin token logged")
	}
}

// The workflow API and the push admin API accept the same credentials, built once: here the
// first-run token. Without secrets-key the push admin API is off, but the token is still
// generated (the workflow API needs it).
func TestWorkflowAPISharesAdminCredentials(t *testing.T) {
	tokenIn := func(p *process) string {
		t.Helper()
		m := regexp.MustCompile(`admin_token=(cg_[A-Za-z0-9_-]{43})`).FindStringSubmatch(p.logText())
		if m == nil {
			t.Fatalf("no generated admin token in the log:\n%s", p.logText())
		}
		return m[1]
	}
	withSecrets := startProcessEnv(t, []string{"CHATGATE_SECRETS_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="},
		"--addr", "127.0.0.1:0", "--data", t.TempDir())
	tok := tokenIn(withSecrets)
	if code, b := wfCall(t, withSecrets, "GET", "/chats?checkDue=1", tok); code != 200 {
		t.Fatalf("workflow API with the first-run token: %d %s", code, b)
	}
	req, _ := http.NewRequest(http.MethodGet, withSecrets.url("/admin/push/credentials"), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("push admin API with the same token: %d", resp.StatusCode)
	}
	if code, _ := wfCall(t, withSecrets, "GET", "/chats?checkDue=1", tok+"x"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}

	without := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir())
	if code, b := wfCall(t, without, "GET", "/chats?checkDue=1", tokenIn(without)); code != 200 {
		t.Fatalf("workflow API without secrets-key: %d %s", code, b)
	}
	checkPushAdminOff(t, without, tokenIn(without))
}
