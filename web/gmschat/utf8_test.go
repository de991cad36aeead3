package gmschat

import (
	"testing"
)

// TestJSONBodiesRefuseBrokenText is issue 7 item 10 on the wire: a JSON REST body or a CometD
// data object with invalid UTF-8 or a lone surrogate escape gets the 400 code 100 a form body
// gets (over CometD: statusCode 2 with code 100), and nothing is committed.
func TestJSONBodiesRefuseBrokenText(t *testing.T) {
	r := startRig(t, Options{})
	chat := r.createChat("Ann")
	bodies := []string{
		`{"secureKey":"` + chat.secureKey + `","message":"a\ud800b"}`,
		`{"secureKey":"` + chat.secureKey + `","message":"\udc00"}`,
		`{"secureKey":"` + chat.secureKey + `","message":"x","userData":{"k":"\ud83d"}}`,
		"{\"secureKey\":\"" + chat.secureKey + "\",\"message\":\"a\xff\xfeb\"}",
	}
	for _, b := range bodies {
		a := r.mustPost(chat.path("send"), "application/json", b)
		if a.status != 400 || a.errCode() != CodeMalformed {
			t.Errorf("JSON body %q: HTTP %d %s, want 400 code 100", b, a.status, a.raw)
		}
	}
	// The same text as a form body, for comparison: the documented answer.
	if a := r.mustPost(chat.path("send"), "", chat.cred()+"&message=a%ff%feb"); a.status != 400 || a.errCode() != CodeMalformed {
		t.Fatalf("form body with invalid UTF-8: %d %s", a.status, a.raw)
	}
	// A valid surrogate pair is text and is stored as the character it encodes.
	if a := r.mustPost(chat.path("send"), "application/json", `{"secureKey":"`+chat.secureKey+`","message":"\ud83d\ude00"}`); a.status != 200 {
		t.Fatalf("JSON body with a surrogate pair: %d %s", a.status, a.raw)
	}

	c := r.comet()
	c.handshake()
	if _, err := c.publish(map[string]any{"operation": "requestNotifications", "secureKey": chat.secureKey, "transcriptPosition": 0}); err != nil {
		t.Fatal(err)
	}
	c.awaitPush(func(p map[string]any) bool { return p["statusCode"] == float64(0) })
	// The data object is built by hand so the lone surrogate reaches the wire as an escape.
	if _, err := c.send(map[string]any{"channel": ChannelPrefix + rigService,
		"data": rawJSON(`{"operation":"sendMessage","secureKey":"` + chat.secureKey + `","message":"\udbff!"}`)}); err != nil {
		t.Fatal(err)
	}
	p := c.awaitPush(func(p map[string]any) bool { return p["statusCode"] != float64(0) })
	if p["statusCode"] != float64(2) || string(mustJSON(t, p["errors"])) != `[{"advice":"fields must be UTF-8 text","code":100}]` {
		t.Fatalf("CometD sendMessage with a lone surrogate: %v", p)
	}

	a := r.mustPost(chat.path("refresh"), "", chat.cred()+"&transcriptPosition=1")
	msgs := a.messages()
	if len(msgs) != 2 || msgs[1]["text"] != "\U0001F600" {
		t.Fatalf("transcript after the refused bodies: %s", a.raw)
	}
}
