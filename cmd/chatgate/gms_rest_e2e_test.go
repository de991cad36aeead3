package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests drive the GMS Chat API v2 REST flavour of the real binary with plain HTTP, as a
// REST widget or mobile app would.

const restSvc = "customer-support"

// gmsResp is the common response object (or an error body) as a client sees it.
type gmsResp struct {
	HTTP         int               `json:"-"`
	StatusCode   int               `json:"statusCode"`
	ChatID       string            `json:"chatId"`
	UserID       string            `json:"userId"`
	SecureKey    string            `json:"secureKey"`
	Alias        string            `json:"alias"`
	ChatEnded    bool              `json:"chatEnded"`
	NextPosition *int64            `json:"nextPosition"`
	Messages     []gmsEvent        `json:"messages"`
	UserData     map[string]string `json:"userData"`
	Errors       []struct {
		Code   int    `json:"code"`
		Advice string `json:"advice"`
	} `json:"errors"`
}

type gmsEvent struct {
	From struct {
		Nickname      string `json:"nickname"`
		ParticipantID int    `json:"participantId"`
		Type          string `json:"type"`
	} `json:"from"`
	Index       int64             `json:"index"`
	Type        string            `json:"type"`
	UTCTime     int64             `json:"utcTime"`
	Text        string            `json:"text"`
	MessageType string            `json:"messageType"`
	UserData    map[string]string `json:"userData"`
}

func (r gmsResp) errCode() int {
	if len(r.Errors) == 0 {
		return 0
	}
	return r.Errors[0].Code
}

func (r gmsResp) types() []string {
	var out []string
	for _, m := range r.Messages {
		out = append(out, m.Type)
	}
	return out
}

// gmsChat is one customer's view of a chat.
type gmsChat struct {
	t                                *testing.T
	base                             string // http://addr/genesys/2/chat/<svc>
	chatID, userID, secureKey, alias string
}

func postForm(t *testing.T, u string, form url.Values) gmsResp {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	return readGMS(t, resp)
}

func readGMS(t *testing.T, resp *http.Response) gmsResp {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var r gmsResp
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: not JSON (%v): %s", resp.Request.URL.Path, err, body)
	}
	r.HTTP = resp.StatusCode
	return r
}

func createChat(t *testing.T, p *process, svc string, form url.Values) (*gmsChat, gmsResp) {
	t.Helper()
	base := p.url("/genesys/2/chat/" + svc)
	r := postForm(t, base, form)
	if r.HTTP != 200 || r.StatusCode != 0 || r.ChatID == "" || r.SecureKey == "" || r.UserID == "" || r.Alias == "" {
		t.Fatalf("requestChat: %+v", r)
	}
	return &gmsChat{t: t, base: base, chatID: r.ChatID, userID: r.UserID, secureKey: r.SecureKey, alias: r.Alias}, r
}

// op posts an operation with the chat's credentials plus extra fields.
func (c *gmsChat) op(name string, fields ...string) gmsResp {
	c.t.Helper()
	form := url.Values{"secureKey": {c.secureKey}, "userId": {c.userID}, "alias": {c.alias}}
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] != "" {
			form.Set(fields[i], fields[i+1])
		}
	}
	return postForm(c.t, c.base+"/"+c.chatID+"/"+name, form)
}

func (c *gmsChat) refresh(from int64) gmsResp {
	c.t.Helper()
	r := c.op("refresh", "transcriptPosition", fmt.Sprint(from))
	if r.HTTP != 200 {
		c.t.Fatalf("refresh: %+v", r)
	}
	return r
}

func (c *gmsChat) upload(name string, data []byte, desc string) gmsResp {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("secureKey", c.secureKey)
	_ = mw.WriteField("userData[file-description]", desc)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	resp, err := http.Post(c.base+"/"+c.chatID+"/file", mw.FormDataContentType(), &body)
	if err != nil {
		c.t.Fatal(err)
	}
	return readGMS(c.t, resp)
}

func (c *gmsChat) download(fileID string) (int, []byte) {
	c.t.Helper()
	resp, err := http.PostForm(c.base+"/"+c.chatID+"/file/"+fileID+"/download", url.Values{"secureKey": {c.secureKey}})
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chatgate.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGMSRESTEveryOperation(t *testing.T) {
	cfg := writeConfig(t, `{"chat.`+restSvc+`": {"client-file-transfer": {"upload-max-files": 2, "upload-file-types": "txt:png"}}}`)
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--config", cfg)

	c, created := createChat(t, p, restSvc, url.Values{
		"firstName": {"Ann"}, "lastName": {"Lee"}, "subject": {"billing"},
		"userData[GCTI_Chat_AsyncMode]": {"true"}, "userData[topic]": {"invoice"},
	})
	if got := created.types(); len(got) != 1 || got[0] != "ParticipantJoined" || created.Messages[0].From.Nickname != "Ann Lee" ||
		created.Messages[0].Index != 1 || *created.NextPosition != 2 || created.Messages[0].UTCTime < time.Now().Add(-time.Minute).UnixMilli() {
		t.Fatalf("requestChat messages: %+v next %v", created.Messages, *created.NextPosition)
	}

	if r := c.op("send", "message", "hello", "messageType", "text"); r.HTTP != 200 || r.StatusCode != 0 || r.SecureKey != c.secureKey || r.ChatID != c.chatID {
		t.Fatalf("send: %+v", r)
	}
	for _, step := range []struct{ op, field, value string }{
		{"startTyping", "message", "hel"},
		{"stopTyping", "", ""},
		{"pushUrl", "pushUrl", "https://shop.example.com/cart"},
		{"updateNickname", "nickname", "Annie"},
		{"customNotice", "message", "custom"},
		{"updateData", "userData[orderId]", "42"},
	} {
		r := c.op(step.op, step.field, step.value, "transcriptPosition", "0")
		if r.HTTP != 200 || r.StatusCode != 0 || len(r.Messages) != 0 {
			t.Fatalf("%s: %+v", step.op, r)
		}
	}
	all := c.refresh(1)
	want := []string{"ParticipantJoined", "Message", "TypingStarted", "TypingStopped", "PushUrl", "NicknameUpdated", "CustomNotice"}
	if strings.Join(all.types(), ",") != strings.Join(want, ",") {
		t.Fatalf("transcript %v, want %v", all.types(), want)
	}
	for i, m := range all.Messages {
		if m.Index != int64(i+1) {
			t.Fatalf("event %d has index %d", i, m.Index)
		}
	}
	if m := all.Messages[1]; m.Text != "hello" || m.MessageType != "text" || m.From.Type != "Client" || m.From.ParticipantID != 1 {
		t.Fatalf("message event %+v", m)
	}
	if *all.NextPosition != 8 {
		t.Fatalf("nextPosition %d, want 8", *all.NextPosition)
	}
	if r := c.refresh(6); strings.Join(r.types(), ",") != "NicknameUpdated,CustomNotice" {
		t.Fatalf("refresh from 6: %v", r.types())
	}
	if r := c.refresh(0); len(r.Messages) != 0 || *r.NextPosition != 8 {
		t.Fatalf("refresh 0: %+v", r)
	}

	// Files.
	lim := c.op("file/limits", "transcriptPosition", "0")
	if lim.HTTP != 200 || len(lim.Messages) != 1 || lim.Messages[0].Text != "file-client-cfg-get" ||
		lim.Messages[0].UserData["upload-max-files"] != "2" || lim.Messages[0].UserData["upload-file-types"] != "txt:png" {
		t.Fatalf("file limits: %+v", lim)
	}
	up := c.upload("notes.txt", []byte("file body"), "my notes")
	fileID := up.UserData["file-id"]
	if up.HTTP != 200 || fileID == "" {
		t.Fatalf("upload: %+v", up)
	}
	if code, body := c.download(fileID); code != 200 || string(body) != "file body" {
		t.Fatalf("download: %d %q", code, body)
	}
	if r := c.op("file/" + fileID + "/delete"); r.HTTP != 200 || r.StatusCode != 0 {
		t.Fatalf("delete: %+v", r)
	}
	tail := c.refresh(8)
	if strings.Join(tail.types(), ",") != "FileUploaded,FileDeleted" || tail.Messages[0].UserData["file-id"] != fileID ||
		tail.Messages[0].UserData["file-description"] != "my notes" {
		t.Fatalf("file events: %+v", tail.Messages)
	}
	if code, _ := c.download(fileID); code != 404 {
		t.Fatalf("download of a deleted file: %d", code)
	}

	// Disconnect ends the chat for the customer; later operations answer statusCode 2.
	if r := c.op("disconnect"); r.HTTP != 200 || !r.ChatEnded {
		t.Fatalf("disconnect: %+v", r)
	}
	if r := c.op("send", "message", "too late"); r.HTTP != 200 || r.StatusCode != 2 || !r.ChatEnded {
		t.Fatalf("send after disconnect: %+v", r)
	}
	end := c.refresh(1)
	if last := end.Messages[len(end.Messages)-1]; last.Type != "ParticipantLeft" || !end.ChatEnded {
		t.Fatalf("after disconnect: %v ended=%v", end.types(), end.ChatEnded)
	}
}

// Bad input gets the documented error and changes nothing.
func TestGMSRESTRejectsBadInputWithoutEffect(t *testing.T) {
	cfg := writeConfig(t, `{"chat": {"client-file-transfer": {"upload-max-files": 1, "upload-file-types": "txt"}}}`)
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--config", cfg, "--services", restSvc+",sales")
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Bob"}})
	if r := c.upload("a.txt", []byte("one"), ""); r.HTTP != 200 {
		t.Fatalf("first upload: %+v", r)
	}
	before := c.refresh(1)

	wrongKey := *c
	wrongKey.secureKey = strings.Repeat("0", len(c.secureKey))
	unknownChat := *c
	unknownChat.chatID = "nosuchchat000000"
	cases := []struct {
		name       string
		do         func() gmsResp
		http, code int
	}{
		{"wrong secureKey", func() gmsResp { return wrongKey.op("send", "message", "x") }, 403, 201},
		{"unknown chat", func() gmsResp { return unknownChat.op("send", "message", "x") }, 403, 201},
		{"wrong userId", func() gmsResp {
			return postForm(t, c.base+"/"+c.chatID+"/send", url.Values{"secureKey": {c.secureKey}, "userId": {"NOTME"}, "message": {"x"}})
		}, 403, 201},
		{"no secureKey", func() gmsResp {
			return postForm(t, c.base+"/"+c.chatID+"/send", url.Values{"message": {"x"}})
		}, 401, 200},
		{"empty message", func() gmsResp { return c.op("send", "message", "") }, 400, 101},
		{"oversize message", func() gmsResp { return c.op("send", "message", strings.Repeat("x", 17<<10)) }, 413, 401},
		{"bad transcriptPosition", func() gmsResp { return c.op("refresh", "transcriptPosition", "1.5") }, 400, 102},
		{"forbidden file type", func() gmsResp { return c.upload("evil.exe", []byte("MZ"), "") }, 415, 411},
		{"over upload-max-files", func() gmsResp { return c.upload("b.txt", []byte("two"), "") }, 413, 403},
		{"unknown operation", func() gmsResp { return c.op("dance") }, 404, 103},
		{"unlisted service", func() gmsResp {
			return postForm(t, p.url("/genesys/2/chat/other"), url.Values{"nickname": {"x"}})
		}, 404, 300},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.do()
			if r.HTTP != tc.http || r.errCode() != tc.code {
				t.Fatalf("got HTTP %d code %d (%+v), want %d/%d", r.HTTP, r.errCode(), r.Errors, tc.http, tc.code)
			}
		})
	}
	after := c.refresh(1)
	if *after.NextPosition != *before.NextPosition || strings.Join(after.types(), ",") != strings.Join(before.types(), ",") {
		t.Fatalf("transcript changed by rejected requests: %v → %v", before.types(), after.types())
	}
	// The other listed service works.
	createChat(t, p, "sales", url.Values{"nickname": {"Cy"}})
}

// A chat survives SIGKILL: every acknowledged event is there after the restart, timers that
// fell due while the server was down fire at start, and the customer resumes with refresh.
func TestGMSRESTChatSurvivesSIGKILL(t *testing.T) {
	const alert, closeAfter = 3, 1 // seconds
	cfg := writeConfig(t, fmt.Sprintf(`{"chat": {"settings": {"async-idle-alert": %d, "async-idle-close": %d}}}`, alert, closeAfter))
	data := t.TempDir()
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", data, "--config", cfg)
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Dee"}, "userData[GCTI_Chat_AsyncMode]": {"true"}})
	var sent []string
	for i := range 20 {
		msg := fmt.Sprintf("message %d", i)
		if r := c.op("send", "message", msg, "transcriptPosition", "0"); r.HTTP != 200 || r.StatusCode != 0 {
			t.Fatalf("send %d: %+v", i, r)
		}
		sent = append(sent, msg)
	}
	lastActivity := time.Now()
	p.signal(syscall.SIGKILL)
	p.waitExit(10 * time.Second)

	// Stay down until the alert deadline has passed, so it can only fire at start.
	eventually(t, time.Duration(alert+5)*time.Second, "the async-idle-alert deadline to pass while down", func() bool {
		return time.Since(lastActivity) > time.Duration(alert)*time.Second+200*time.Millisecond
	})
	q := startProcess(t, "--addr", p.addr, "--data", data, "--config", cfg)
	c.base = q.url("/genesys/2/chat/" + restSvc)
	r := c.refresh(1)
	var got []string
	for _, m := range r.Messages {
		if m.Type == "Message" {
			got = append(got, m.Text)
		}
	}
	if strings.Join(got, "|") != strings.Join(sent, "|") {
		t.Fatalf("after SIGKILL: messages %q, want %q", got, sent)
	}
	// The alert fell due while down: it fires at start, then the close follows.
	var idle []string
	eventually(t, 15*time.Second, "idle alert and close after the restart", func() bool {
		r = c.refresh(1)
		idle = idle[:0]
		for _, m := range r.Messages {
			if m.Type == "Notice" && m.UserData["idle-control"] != "" {
				idle = append(idle, m.UserData["idle-control"])
			}
		}
		return r.ChatEnded
	})
	if strings.Join(idle, ",") != "alert,close" {
		t.Fatalf("idle notices %v, want alert,close", idle)
	}
}

// Chat options change at runtime: SIGHUP re-reads the config file's chat sections and running
// chats follow the new values; a bad file is refused and the running options stay.
func TestChatOptionsReloadOnSIGHUP(t *testing.T) {
	cfg := writeConfig(t, `{"chat": {"settings": {"async-idle-alert": 3600, "async-idle-close": 3600}}}`)
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--config", cfg)
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Eve"}, "userData[GCTI_Chat_AsyncMode]": {"true"}})

	if err := os.WriteFile(cfg, []byte(`{"chat": {"settings": {"async-idle-alert": "soon"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	eventually(t, 5*time.Second, "the bad file refused", func() bool {
		return strings.Contains(p.logText(), "chat options not reloaded")
	})
	if r := c.refresh(1); r.ChatEnded || len(r.Messages) != 1 {
		t.Fatalf("chat changed after a refused reload: %+v", r)
	}

	if err := os.WriteFile(cfg, []byte(`{"chat": {"settings": {"async-idle-alert": 1, "async-idle-close": 1}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	eventually(t, 5*time.Second, "options reloaded", func() bool {
		return strings.Contains(p.logText(), "chat options reloaded")
	})
	var r gmsResp
	eventually(t, 10*time.Second, "the running chat closed under the new async-idle-alert/close", func() bool {
		r = c.refresh(1)
		return r.ChatEnded
	})
	var idle []string
	for _, m := range r.Messages {
		if m.Type == "Notice" {
			idle = append(idle, m.UserData["idle-control"])
		}
	}
	if strings.Join(idle, ",") != "alert,close" {
		t.Fatalf("idle notices %v", idle)
	}
}

// TestNewNodeIDKeepsCustomers: the node id is the alias of every GMS answer, and clients send
// the last one back. A container recreated under another id (Docker's random host name) must
// not refuse the customers of the chats on its volume: alias is informational only
// (gms-chat-v2.md §9.4 as corrected, issue 8 §1 item 5); the answer carries the new one.
func TestNewNodeIDKeepsCustomers(t *testing.T) {
	data := t.TempDir()
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", data, "--node-id", "node-a")
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Ann"}})
	if c.alias != "node-a" {
		t.Fatalf("alias %q, want the node id", c.alias)
	}
	p.signal(syscall.SIGTERM)
	if code := p.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	q := startProcess(t, "--addr", "127.0.0.1:0", "--data", data, "--node-id", "node-b")
	c.base = q.url("/genesys/2/chat/" + restSvc)
	r := c.op("refresh", "transcriptPosition", "1") // still sends alias node-a
	if r.HTTP != 200 || r.StatusCode != 0 || r.Alias != "node-b" || r.SecureKey != c.secureKey || len(r.Messages) != 1 {
		t.Fatalf("request with the old alias under another node id: %+v", r)
	}
	if r := c.op("send", "message", "after the new container"); r.HTTP != 200 || r.StatusCode != 0 {
		t.Fatalf("send with the old alias under another node id: %+v", r)
	}
	q.signal(syscall.SIGTERM)
	if code := q.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
