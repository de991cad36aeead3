package gmschat

import (
	"strings"
	"testing"
)

// TestOtherServicePathRefused is issue 7 item 9: a chat's credentials used through another
// service's REST path or CometD channel are answered like an unknown chat (403 code 201 /
// statusCode 2 with code 201) and change nothing.
func TestOtherServicePathRefused(t *testing.T) {
	r := startRig(t, Options{})
	chat := r.createChat("Ann")
	other := RESTPrefix + "other-svc/" + chat.id + "/"
	for _, op := range []struct{ path, body string }{
		{"send", "&message=evil"},
		{"refresh", "&transcriptPosition=1"},
		{"startTyping", "&message=ev"},
		{"pushUrl", "&pushUrl=https%3A%2F%2Fevil.example"},
		{"updateNickname", "&nickname=Evil"},
		{"updateData", "&userData[k]=evil"},
		{"customNotice", "&message=evil"},
		{"file/limits", ""},
		{"disconnect", ""},
	} {
		a := r.mustPost(other+op.path, "", chat.cred()+op.body)
		if a.status != 403 || a.errCode() != CodeForbidden {
			t.Errorf("%s through other-svc: HTTP %d %s, want 403 code 201", op.path, a.status, a.raw)
		}
	}

	c := r.comet()
	c.handshake()
	if _, err := c.publishTo("other-svc", map[string]any{"operation": "sendMessage", "secureKey": chat.secureKey, "message": "evil over cometd"}); err != nil {
		t.Fatal(err)
	}
	p := c.awaitPush(func(map[string]any) bool { return true })
	if sc, _ := p["statusCode"].(float64); sc != 2 || !strings.Contains(string(mustJSON(t, p)), `"code":201`) {
		t.Fatalf("CometD sendMessage through other-svc answered %v, want statusCode 2 code 201", p)
	}
	if r.adapter.idx.len() != 0 {
		t.Fatal("the refused session was attached to the chat")
	}

	// Nothing changed: through its own service the chat is open, holds only the join, the
	// nickname is the original one.
	a := r.mustPost(chat.path("refresh"), "", chat.cred()+"&transcriptPosition=1")
	if a.status != 200 || a.body["chatEnded"] != false {
		t.Fatalf("refresh through the chat's own service: %d %s", a.status, a.raw)
	}
	msgs := a.messages()
	if len(msgs) != 1 || msgs[0]["type"] != "ParticipantJoined" {
		t.Fatalf("transcript changed through another service: %s", a.raw)
	}
	if from, _ := msgs[0]["from"].(map[string]any); from["nickname"] != "Ann" {
		t.Fatalf("nickname changed: %s", a.raw)
	}
	view, err := r.core.Chat(chat.id)
	if err != nil || view.UserData["k"] != "" {
		t.Fatalf("userData changed through another service: %v %v", view.UserData, err)
	}
}
