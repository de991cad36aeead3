package gmschat

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/chatcore"
)

// The Genesys Widgets WebChat shapes of issue 8 §1, as seen on the wire: REST over urlencoded
// forms (chat requested at {svc}/ with a trailing slash, secureKey+userId+alias echoed on
// every call), CometD publishes on /service/chatV2/{svc} and the async restore with
// refresh transcriptPosition -1.

// widgetCreate is the widget's REST Request Chat: trailing slash, names, async userData.
func widgetCreate(t *testing.T, r *rig) restAnswer {
	t.Helper()
	form := url.Values{
		"firstName": {"Ann"}, "lastName": {"Lee"}, "nickname": {"Ann"}, "emailAddress": {"ann@example.com"},
		"subject": {"Order 42"}, "userData[GCTI_Chat_AsyncMode]": {"true"}, "userData[TimeZone]": {"-60"},
	}
	a := r.mustPost(RESTPrefix+rigService+"/", "application/x-www-form-urlencoded; charset=UTF-8", form.Encode())
	if a.status != 200 {
		t.Fatalf("widget Request Chat at {svc}/: %d %s", a.status, a.raw)
	}
	return a
}

// checkOwn asserts the GMS common response object's credentials (§9.4).
func checkOwn(t *testing.T, what string, body map[string]any, chat restChat) {
	t.Helper()
	for k, want := range map[string]string{"chatId": chat.id, "userId": chat.userID, "secureKey": chat.secureKey, "alias": "node-1"} {
		if got, _ := body[k].(string); got != want {
			t.Errorf("%s: %s = %q, want %q (body %v)", what, k, got, want, body)
		}
	}
	if _, ok := body["statusCode"].(float64); !ok {
		t.Errorf("%s: no statusCode in %v", what, body)
	}
}

// TestWidgetRESTCredentialsOnEveryAnswer covers issue 8 §1 items 1, 2 (trailing slash), 5 and
// 6 over REST.
func TestWidgetRESTCredentialsOnEveryAnswer(t *testing.T) {
	r := startRig(t, Options{Limits: Limits{MaxValueBytes: 1024}})
	a := widgetCreate(t, r)
	chat := restChat{id: a.str("chatId"), userID: a.str("userId"), secureKey: a.str("secureKey"), alias: a.str("alias")}
	checkOwn(t, "create", a.body, chat)
	if a.body["statusCode"] != float64(0) {
		t.Fatalf("create statusCode: %s", a.raw)
	}
	// What the widget sends on each later call: its stored keys, with an alias of a
	// container that no longer exists (a stale alias never fails: §9.4).
	cred := url.Values{"secureKey": {chat.secureKey}, "userId": {chat.userID}, "alias": {"chatgate-old-container-7"}}
	with := func(kv ...string) string {
		v := url.Values{}
		for k, vs := range cred {
			v[k] = vs
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	for _, c := range []struct{ path, body string }{
		{"send", with("message", "hello", "messageType", "text")},
		{"send/", with("message", "with a trailing slash", "transcriptPosition", "0")},
		{"startTyping", with("message", "hel")},
		{"stopTyping", with()},
		{"refresh", with("transcriptPosition", "1")},
		{"refresh/", with("transcriptPosition", "-1")},
		{"updateData", with("userData[page]", "/cart")},
		{"file/limits", with()},
		{"pushUrl", with("pushUrl", "https://shop.example/cart")},
	} {
		a := r.mustPost(chat.path(c.path), "", c.body)
		if a.status != 200 || a.body["statusCode"] != float64(0) {
			t.Fatalf("%s: %d %s", c.path, a.status, a.raw)
		}
		checkOwn(t, c.path, a.body, chat)
	}

	// A failure after the key was verified (chatcore refuses the file type) carries the
	// keys and statusCode too.
	ct, body := multipartBody(t, map[string]string{"secureKey": chat.secureKey, "alias": "chatgate-old-container-7"}, "tool.exe", []byte("MZ"))
	a = r.mustPost(chat.path("file"), ct, string(body))
	if a.status != 415 || a.errCode() != CodeFileTypeForbidden || a.body["statusCode"] != float64(2) {
		t.Fatalf("upload of a refused type: %d %s", a.status, a.raw)
	}
	checkOwn(t, "refused upload", a.body, chat)
	// A failure before the key is checked (the parser refuses the value) carries statusCode
	// and no credentials.
	a = r.mustPost(chat.path("send"), "", with("message", strings.Repeat("x", 2000)))
	if a.status != 413 || a.errCode() != CodeMessageTooLarge || a.body["statusCode"] != float64(2) || a.str("secureKey") != "" {
		t.Fatalf("oversize message: %d %s", a.status, a.raw)
	}

	// Every REST error body carries statusCode (2 = retry pointless, 1 = retry may help).
	for _, c := range []struct {
		path, body string
		status     int
		sc         float64
	}{
		{chat.path("explode"), with(), 404, 2},
		{chat.path("send"), "secureKey=wrong&message=x", 403, 2},
		{chat.path("send"), "message=x", 401, 2},
		{RESTPrefix + "bad%20svc", "nickname=x", 404, 2},
		{RESTPrefix + rigService, "subject=no+name", 400, 2},
		// chat-ntf answers with a trailing slash too (here: no Bayeux session cookie).
		{NtfPath + "/", "operation=fileGetLimits&secureKey=" + chat.secureKey, 403, 2},
	} {
		a := r.mustPost(c.path, "", c.body)
		if a.status != c.status || a.body["statusCode"] != c.sc || a.errCode() == 0 {
			t.Errorf("%s %s: %d %s, want %d statusCode %v with errors", c.path, c.body, a.status, a.raw, c.status, c.sc)
		}
		if a.str("secureKey") != "" || a.str("chatId") != "" {
			t.Errorf("%s %s: unverified failure carries credentials: %s", c.path, c.body, a.raw)
		}
	}

	// -1 is the last event: the pushUrl above.
	a = r.mustPost(chat.path("refresh"), "", with("transcriptPosition", "-1"))
	msgs := a.messages()
	if len(msgs) != 1 || msgs[0]["type"] != "PushUrl" {
		t.Fatalf("refresh -1: %s", a.raw)
	}
	last := msgs[0]["index"].(float64)
	if a.body["nextPosition"] != last+1 {
		t.Fatalf("refresh -1 nextPosition: %s", a.raw)
	}
	a = r.mustPost(chat.path("refresh"), "", with("transcriptPosition", "-3"))
	if msgs := a.messages(); len(msgs) != 3 || msgs[0]["index"] != last-2 {
		t.Fatalf("refresh -3: %s", a.raw)
	}
	a = r.mustPost(chat.path("refresh"), "", with("transcriptPosition", "-1000"))
	if msgs := a.messages(); len(msgs) != int(last) {
		t.Fatalf("refresh -1000 on %v events: %s", last, a.raw)
	}

	// The chat ends: the answer to the customer's own operation still carries the keys.
	if a := r.mustPost(chat.path("disconnect"), "", with()); a.status != 200 || a.body["chatEnded"] != true {
		t.Fatalf("disconnect: %d %s", a.status, a.raw)
	}
	a = r.mustPost(chat.path("send"), "", with("message", "after the end"))
	if a.status != 200 || a.body["statusCode"] != float64(2) || a.body["chatEnded"] != true {
		t.Fatalf("send after the end: %d %s", a.status, a.raw)
	}
	checkOwn(t, "send after the end", a.body, chat)
}

// TestWidgetCometDAsyncRestore covers issue 8 §1 items 1, 4 and 5 over CometD: every push to
// the customer carries its keys, the async restore reads the last message with refresh -1 on
// a new session, pages back, and then receives live events; a stale alias is ignored.
func TestWidgetCometDAsyncRestore(t *testing.T) {
	r := startRig(t, Options{})
	c := r.comet()
	c.handshake()
	if _, err := c.publish(map[string]any{"operation": "requestChat", "nickname": "Ann", "subject": "Order 42",
		"userData": map[string]any{"GCTI_Chat_AsyncMode": "true"}}); err != nil {
		t.Fatal(err)
	}
	p := c.awaitPush(func(p map[string]any) bool { return p["secureKey"] != nil })
	chat := restChat{id: p["chatId"].(string), userID: p["userId"].(string), secureKey: p["secureKey"].(string)}
	checkOwn(t, "requestChat", p, chat)

	ctx := t.Context()
	if _, _, err := r.core.Join(ctx, chat.id, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: "Bob", UserID: "agent-7"}); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"hi, Bob here", "how can I help?"} {
		if _, err := r.core.SendMessage(ctx, chat.id, "agent-7", text, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Live events reach the customer with its keys.
	p = c.awaitPush(func(p map[string]any) bool { return hasText(p, "how can I help?") })
	checkOwn(t, "live event", p, chat)
	if _, err := c.publish(map[string]any{"operation": "sendMessage", "secureKey": chat.secureKey, "alias": "gone-node", "message": "my order"}); err != nil {
		t.Fatal(err)
	}
	p = c.awaitPush(func(p map[string]any) bool { return hasText(p, "my order") || p["statusCode"] != float64(0) })
	if p["statusCode"] != float64(0) {
		t.Fatalf("sendMessage with a stale alias: %v", p)
	}
	checkOwn(t, "sendMessage echo", p, chat)

	// The tab reloads: a new Bayeux session, refresh -1 for the last message.
	if _, err := c.send(map[string]any{"channel": "/meta/disconnect"}); err != nil {
		t.Fatal(err)
	}
	c2 := r.comet()
	c2.handshake()
	if _, err := c2.publish(map[string]any{"operation": "refresh", "secureKey": chat.secureKey, "userId": chat.userID,
		"alias": "gone-node", "transcriptPosition": -1}); err != nil {
		t.Fatal(err)
	}
	p = c2.awaitPush(func(map[string]any) bool { return true })
	checkOwn(t, "refresh -1", p, chat)
	msgs, _ := p["messages"].([]any)
	if len(msgs) != 1 || !hasText(p, "my order") {
		t.Fatalf("refresh -1 answered %v, want the last message only", p)
	}
	last := msgs[0].(map[string]any)["index"].(float64)
	// Paging back: from 1, everything up to the last message, although the session has
	// already received the last one.
	if _, err := c2.publish(map[string]any{"operation": "refresh", "secureKey": chat.secureKey, "transcriptPosition": 1}); err != nil {
		t.Fatal(err)
	}
	p = c2.awaitPush(func(p map[string]any) bool { return p["statusCode"] != float64(0) || len(p["messages"].([]any)) > 1 })
	checkOwn(t, "refresh 1", p, chat)
	if msgs, _ := p["messages"].([]any); len(msgs) != int(last) || !hasText(p, "hi, Bob here") {
		t.Fatalf("refresh 1 answered %v, want all %v events", p, last)
	}
	// Refresh attached the new session: the agent's next message is pushed live, once.
	if _, err := r.core.SendMessage(ctx, chat.id, "agent-7", "still there?", ""); err != nil {
		t.Fatal(err)
	}
	p = c2.awaitPush(func(p map[string]any) bool { return hasText(p, "still there?") })
	checkOwn(t, "live event after the restore", p, chat)
}

// hasText reports whether a push carries a message with text.
func hasText(p map[string]any, text string) bool {
	msgs, _ := p["messages"].([]any)
	for _, m := range msgs {
		if mm, _ := m.(map[string]any); mm["text"] == text {
			return true
		}
	}
	return false
}

// TestRefreshLastSkipsInternal: transcriptPosition -N counts the events the customer sees, so
// an agent's coaching (INT) messages at the end of the transcript do not leave the async
// restore's refresh -1 empty.
func TestRefreshLastSkipsInternal(t *testing.T) {
	r := startRig(t, Options{})
	chat := r.createChat("Ann")
	ctx := t.Context()
	if _, _, err := r.core.Join(ctx, chat.id, chatcore.JoinRequest{Type: chatcore.Agent, Nickname: "Bob", UserID: "agent-7"}); err != nil {
		t.Fatal(err)
	}
	if a := r.mustPost(chat.path("send"), "", chat.cred()+"&message=mine"); a.status != 200 {
		t.Fatalf("send: %d %s", a.status, a.raw)
	}
	for range 5 {
		if _, err := r.core.SendVisible(ctx, chat.id, "agent-7", "coach: be nice", "", chatcore.VisibilityInternal); err != nil {
			t.Fatal(err)
		}
	}
	view, err := r.core.Chat(chat.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pos   string
		texts []string
	}{
		{"-1", []string{"mine"}},
		{"-2", []string{"", "mine"}}, // the agent's ParticipantJoined, then the message
		{"-50", []string{"", "", "mine"}},
	} {
		a := r.mustPost(chat.path("refresh"), "", chat.cred()+"&transcriptPosition="+c.pos)
		var texts []string
		for _, m := range a.messages() {
			s, _ := m["text"].(string)
			texts = append(texts, s)
		}
		if strings.Join(texts, "|") != strings.Join(c.texts, "|") || a.body["nextPosition"] != float64(view.LastIndex+1) {
			t.Errorf("refresh %s: texts %q, want %q (%s)", c.pos, texts, c.texts, a.raw)
		}
	}
}
