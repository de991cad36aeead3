package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"
)

const agentAdminToken = "agent-go-e2e-admin-token-0123456789"

// agentHTTP sends a JSON request to the binary with a bearer token and decodes the answer
// into out (when not nil); it returns the HTTP status.
func agentHTTP(t *testing.T, p *process, method, path, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.url(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// agentAccount creates an agent account of the queue with capacity 1 (one chat, offers
// included) through the admin API.
func agentAccount(t *testing.T, p *process, id, queue string) {
	t.Helper()
	spec := map[string]any{"displayName": id, "role": "agent", "queues": []string{queue}, "capacity": 1, "password": id + "-password"}
	if st := agentHTTP(t, p, http.MethodPut, "/admin/accounts/"+id, agentAdminToken, spec, nil); st != http.StatusOK && st != http.StatusCreated {
		t.Fatalf("PUT account %s: %d", id, st)
	}
}

// agentLogin logs the agent in over REST and returns its session token.
func agentLogin(t *testing.T, p *process, id string) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	if st := agentHTTP(t, p, http.MethodPost, "/agent/v1/login", "", map[string]string{"id": id, "password": id + "-password"}, &out); st != http.StatusOK || out.Token == "" {
		t.Fatalf("login %s: %d %+v", id, st, out)
	}
	return out.Token
}

func agentReady(t *testing.T, p *process, token string) {
	t.Helper()
	if st := agentHTTP(t, p, http.MethodPut, "/agent/v1/me/state", token, map[string]string{"state": "ready"}, nil); st != http.StatusOK {
		t.Fatalf("state ready: %d", st)
	}
}

// awaitOffer polls GET /agent/v1/offers until the chat is offered to the token's agent.
func awaitOffer(t *testing.T, p *process, token, chatID string) {
	t.Helper()
	eventually(t, 15*time.Second, "the offer of "+chatID, func() bool {
		var out struct {
			Offers []struct {
				ChatID string `json:"chatId"`
			} `json:"offers"`
		}
		if agentHTTP(t, p, http.MethodGet, "/agent/v1/offers", token, nil, &out) != http.StatusOK {
			return false
		}
		for _, o := range out.Offers {
			if o.ChatID == chatID {
				return true
			}
		}
		return false
	})
}

type agentChat struct {
	State       string `json:"state"`
	AsyncStatus int    `json:"asyncStatus"`
}

func agentAccept(t *testing.T, p *process, token, chatID string) agentChat {
	t.Helper()
	var out struct {
		Chat agentChat `json:"chat"`
	}
	if st := agentHTTP(t, p, http.MethodPost, "/agent/v1/chats/"+chatID+"/accept", token, map[string]any{}, &out); st != http.StatusOK {
		t.Fatalf("accept %s: %d", chatID, st)
	}
	return out.Chat
}

// TestQueuePositionInRefresh: a customer reads its place in the routing queue from the
// userData of its REST refresh answer (docs/gms-api.md, "Queue position"), computed by the
// binary's router: position and waiting count while nobody is ready, offered while an agent
// is offered the chat, nothing once an agent accepted, and the next chat moves up.
func TestQueuePositionInRefresh(t *testing.T) {
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--admin-token", agentAdminToken)
	async := url.Values{"nickname": {"Eve"}, "userData[GCTI_Chat_AsyncMode]": {"true"}}
	c1, _ := createChat(t, p, restSvc, async)
	c2, _ := createChat(t, p, restSvc, async)

	position := func(c *gmsChat, want map[string]string) {
		t.Helper()
		var last map[string]string
		matches := func() bool {
			last = c.refresh(0).UserData
			for _, k := range []string{"routing-queue", "routing-position", "routing-waiting", "routing-offered"} {
				if last[k] != want[k] {
					return false
				}
			}
			return true
		}
		for deadline := time.Now().Add(10 * time.Second); !matches(); {
			if time.Now().After(deadline) {
				t.Fatalf("queue position of %s: userData %v, want %v", c.chatID, last, want)
			}
			time.Sleep(20 * time.Millisecond) // poll interval, not a wait for a condition
		}
		if _, ok := last["routing-estimated-wait"]; ok {
			t.Fatalf("an estimate before any accept: %v", last)
		}
	}
	position(c1, map[string]string{"routing-queue": restSvc, "routing-position": "1", "routing-waiting": "2", "routing-offered": "false"})
	position(c2, map[string]string{"routing-queue": restSvc, "routing-position": "2", "routing-waiting": "2", "routing-offered": "false"})

	// A wrong secureKey learns nothing.
	bad := *c1
	bad.secureKey = "not-the-key"
	if r := bad.op("refresh", "transcriptPosition", "0"); r.HTTP == http.StatusOK || r.UserData["routing-position"] != "" {
		t.Fatalf("refresh with a wrong key: %+v", r)
	}

	agentAccount(t, p, "ann", restSvc)
	ann := agentLogin(t, p, "ann")
	agentReady(t, p, ann)
	awaitOffer(t, p, ann, c1.chatID)
	position(c1, map[string]string{"routing-queue": restSvc, "routing-position": "0", "routing-waiting": "1", "routing-offered": "true"})
	position(c2, map[string]string{"routing-queue": restSvc, "routing-position": "1", "routing-waiting": "1", "routing-offered": "false"})

	if ch := agentAccept(t, p, ann, c1.chatID); ch.State != "joined" || ch.AsyncStatus != -1 {
		t.Fatalf("accepted chat %+v", ch)
	}
	eventually(t, 10*time.Second, "no position once accepted", func() bool {
		_, ok := c1.refresh(0).UserData["routing-position"]
		return !ok
	})
}

// TestRestartDuringOfferAgentAPI: an agent is offered a chat (REST GET /offers), the binary
// is SIGKILLed and restarted on the same data; the agent's session token (stored in
// JetStream KV) still authenticates, the agent sets itself ready again (presence died with
// the node) and the chat is offered again; accept joins it (status -1) and the customer sees
// the agent join.
func TestRestartDuringOfferAgentAPI(t *testing.T) {
	data := t.TempDir()
	args := []string{"--addr", "127.0.0.1:0", "--data", data, "--admin-token", agentAdminToken}
	p := startProcess(t, args...)
	agentAccount(t, p, "ann", restSvc)
	ann := agentLogin(t, p, "ann")
	agentReady(t, p, ann)
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Eve"}, "userData[GCTI_Chat_AsyncMode]": {"true"}})
	awaitOffer(t, p, ann, c.chatID)

	p.signal(syscall.SIGKILL)
	p.waitExit(10 * time.Second)
	p = startProcess(t, args...)
	c.base = p.url("/genesys/2/chat/" + restSvc)

	if st := agentHTTP(t, p, http.MethodGet, "/agent/v1/me", ann, nil, nil); st != http.StatusOK {
		t.Fatalf("GET /me with the session token after the restart: %d", st)
	}
	agentReady(t, p, ann)
	awaitOffer(t, p, ann, c.chatID)
	if ch := agentAccept(t, p, ann, c.chatID); ch.State != "joined" || ch.AsyncStatus != -1 {
		t.Fatalf("accepted chat after the restart %+v", ch)
	}
	eventually(t, 10*time.Second, "the customer sees the agent join", func() bool {
		for _, m := range c.refresh(1).Messages {
			if m.Type == "ParticipantJoined" && m.From.Nickname == "ann" {
				return true
			}
		}
		return false
	})
}

// TestAsyncAlertStatus3ReoffersHeldChat: GCTI_Chat_AsyncStatus 3 is set by the async
// inactivity alert (async-chat.md, async-idle-alert). On the agent side it happens to a chat
// an agent put on hold: the hold answers -2, the customer stays silent past
// async-idle-alert (1 s here, real time: the binary's clock), the agent sees status 3 on
// the chat in its workbin, the customer gets the alert notice, and routing offers the
// alerted chat again (status > 0) to its last agent, whose accept sets -1.
func TestAsyncAlertStatus3ReoffersHeldChat(t *testing.T) {
	cfg := writeConfig(t, `{"chat": {"settings": {"async-idle-alert": 1, "async-idle-close": 600}}}`)
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--admin-token", agentAdminToken, "--config", cfg)
	agentAccount(t, p, "ann", restSvc)
	ann := agentLogin(t, p, "ann")
	agentReady(t, p, ann)
	c, _ := createChat(t, p, restSvc, url.Values{"nickname": {"Eve"}, "userData[GCTI_Chat_AsyncMode]": {"true"}})
	awaitOffer(t, p, ann, c.chatID)
	agentAccept(t, p, ann, c.chatID)

	var held struct {
		Chat agentChat `json:"chat"`
	}
	if st := agentHTTP(t, p, http.MethodPost, "/agent/v1/chats/"+c.chatID+"/hold", ann, map[string]any{}, &held); st != http.StatusOK || held.Chat.State != "held" || held.Chat.AsyncStatus != -2 {
		t.Fatalf("hold: %d %+v", st, held.Chat)
	}
	eventually(t, 15*time.Second, "status 3 on the held chat", func() bool {
		var ch agentChat
		return agentHTTP(t, p, http.MethodGet, "/agent/v1/chats/"+c.chatID, ann, nil, &ch) == http.StatusOK && ch.AsyncStatus == 3
	})
	alerted := false
	for _, m := range c.refresh(1).Messages {
		alerted = alerted || (m.Type == "Notice" && m.UserData["idle-control"] == "alert")
	}
	if !alerted {
		t.Fatal("the customer's transcript has no alert notice")
	}
	awaitOffer(t, p, ann, c.chatID)
	if ch := agentAccept(t, p, ann, c.chatID); ch.State != "joined" || ch.AsyncStatus != -1 {
		t.Fatalf("accept of the alerted chat: %+v", ch)
	}
}
