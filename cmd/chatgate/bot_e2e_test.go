package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestWorkflowAddsBotOverBinary: the workflow puts a bot account into a customer's chat
// over HTTP; the bot, with its own API token, posts through the agent API; the customer
// reads the bot's join (External, GCTI_Chat_PartyStyle=BOT) and its message over GMS REST.
// A bot of another service is refused 403 and the chat is unchanged.
func TestWorkflowAddsBotOverBinary(t *testing.T) {
	p := startProcessEnv(t, []string{"CHATGATE_ADMIN_TOKEN=" + agentAdminToken}, "--addr", "127.0.0.1:0", "--data", t.TempDir())
	for id, svc := range map[string]string{"faq-bot": restSvc, "far-bot": "elsewhere"} {
		spec := map[string]any{"displayName": "FAQ", "role": "bot", "queues": []string{svc}}
		if st := agentHTTP(t, p, http.MethodPut, "/admin/accounts/"+id, agentAdminToken, spec, nil); st != http.StatusOK && st != http.StatusCreated {
			t.Fatalf("PUT %s: %d", id, st)
		}
	}
	var tok struct {
		Token string `json:"token"`
	}
	if st := agentHTTP(t, p, http.MethodPost, "/admin/accounts/faq-bot/tokens", agentAdminToken, map[string]string{"label": "e2e"}, &tok); st != http.StatusOK && st != http.StatusCreated || tok.Token == "" {
		t.Fatalf("bot token: %d %+v", st, tok)
	}
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Ann"}})
	add := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, p.url(WorkflowPrefix+"/chats/"+c.chatID+"/bots"), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+agentAdminToken)
		req.Header.Set("Idempotency-Key", "add-"+body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := add(`{"botId":"far-bot"}`); code != 403 || !strings.Contains(b, "bot_out_of_scope") {
		t.Fatalf("out of scope: %d %s", code, b)
	}
	if code, b := add(`{"botId":"faq-bot","nickname":"Helper"}`); code != 200 {
		t.Fatalf("add bot: %d %s", code, b)
	}
	if st := agentHTTP(t, p, http.MethodPost, "/agent/v1/chats/"+c.chatID+"/send", tok.Token, map[string]string{"text": "Hi, I am a bot"}, nil); st != http.StatusOK {
		t.Fatalf("bot send: %d", st)
	}
	r := c.op("refresh", "transcriptPosition", "1")
	if r.HTTP != 200 {
		t.Fatalf("refresh: %+v", r)
	}
	var joins, msgs int
	for _, ev := range r.Messages {
		if ev.From.Nickname != "Helper" {
			continue
		}
		if ev.From.Type != "External" {
			t.Fatalf("the bot's event from %+v", ev.From)
		}
		switch ev.Type {
		case "ParticipantJoined":
			joins++
			if ev.UserData["GCTI_Chat_PartyStyle"] != "BOT" {
				t.Fatalf("the bot's join userData %v", ev.UserData)
			}
		case "Message":
			msgs++
			if ev.Text != "Hi, I am a bot" {
				t.Fatalf("the bot's message %q", ev.Text)
			}
		}
	}
	if joins != 1 || msgs != 1 {
		t.Fatalf("the customer sees %d joins and %d messages of the bot: %+v", joins, msgs, r.Messages)
	}
}
