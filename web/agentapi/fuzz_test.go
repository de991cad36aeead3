package agentapi

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/chatgate/chatgate/chatcore"
)

// FuzzHandshakeToken: any handshake ext (untrusted) is read without panicking, and a token
// is reported only when ext has the key.
func FuzzHandshakeToken(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"agentToken":"cgs_x"}`, `{"agentToken":1}`, `{"ack":true,"agentToken":""}`, `[1]`, `null`, `{"agentToken":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, ext []byte) {
		tok, has := handshakeToken(ext)
		if tok != "" && !has {
			t.Fatalf("token %q without the key", tok)
		}
		if has && !bytes.Contains(ext, []byte(`agentToken`)) && !bytes.Contains(ext, []byte(`\u`)) {
			t.Fatalf("key reported absent from %q", ext)
		}
	})
}

// FuzzActionParse: an untrusted action object decodes or is refused, and its visibility and
// mode parse without panicking; a parsed visibility is one of the three.
func FuzzActionParse(f *testing.F) {
	for _, s := range []string{`{}`, `{"action":"send","chatId":"abc","text":"hi","visibility":"INT"}`, `{"mode":"barge"}`, `{"visibility":"vip "}`, `{"agent":null}`, `{"text":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var act Action
		if json.Unmarshal(raw, &act) != nil {
			return
		}
		if v, err := chatcore.ParseVisibility(act.Visibility); err == nil {
			if v != chatcore.VisibilityAll && v != chatcore.VisibilityInternal && v != chatcore.VisibilityVIP {
				t.Fatalf("visibility %q parsed to %q", act.Visibility, v)
			}
		}
		if v, ok := parseMode(act.Mode); ok && modeName(v) != act.Mode {
			t.Fatalf("mode %q round-trips to %q", act.Mode, modeName(v))
		}
		_ = validKeyPart(act.ChatID)
	})
}

// FuzzQueryParse: untrusted service-channel data is read as a query only when its action
// names one (otherwise it goes on to the actions), never panics, and a read keeps its fields.
func FuzzQueryParse(f *testing.F) {
	for _, s := range []string{`{}`, `{"action":"transcript","chatId":"abc","from":2}`, `{"action":"logout"}`, `{"action":"send"}`, `{"action":"supervisor-queue","queue":"q"}`, `{"from":"x"}`, `[]`, `{"action":"chat","chatId":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		q, ok := queryOf(raw)
		if _, known := queries[q.Action]; ok != known {
			t.Fatalf("queryOf(%q) = %v for action %q", raw, ok, q.Action)
		}
		if !ok && q != (Query{}) {
			t.Fatalf("a refused query kept fields: %+v", q)
		}
		if ok && slices.Contains(chatActions, q.Action) {
			t.Fatalf("query %q shadows an action", q.Action)
		}
	})
}
