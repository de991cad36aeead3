package bayeux

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// denyPolicy refuses handshakes whose ext carries "bad"; authz makes it a HandshakeAuthorizer.
type denyPolicy struct{}

func (denyPolicy) CanHandshake(_ context.Context, info HandshakeInfo) bool {
	return !strings.Contains(string(info.Ext), "bad")
}
func (denyPolicy) CanSubscribe(context.Context, SessionInfo, string) bool { return true }
func (denyPolicy) CanPublish(context.Context, SessionInfo, string, json.RawMessage) bool {
	return false
}

type authzPolicy struct{ denyPolicy }

func (authzPolicy) AuthorizeHandshake(_ context.Context, info HandshakeInfo) *Error {
	if strings.Contains(string(info.Ext), "bad") {
		return &Error{Code: 401, Message: "unauthorized"}
	}
	return nil
}

// TestHandshakeAuthorizer: a policy that implements HandshakeAuthorizer answers a refused
// handshake with its own error; one that does not gets 403::handshake_denied. Neither
// creates a session.
func TestHandshakeAuthorizer(t *testing.T) {
	for _, tt := range []struct {
		name   string
		policy Policy
		want   string
	}{
		{"bool policy", denyPolicy{}, "403::handshake_denied"},
		{"authorizer", authzPolicy{}, "401::unauthorized"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, Config{Policy: tt.policy})
			c := newClient(t, srv)
			rs := c.send(`{"channel":"/meta/handshake","id":"1","version":"1.0","supportedConnectionTypes":["long-polling"],"ext":{"token":"bad"}}`)
			if len(rs) != 1 || rs[0].ok() || rs[0].Error != tt.want || rs[0].Advice == nil || rs[0].Advice.Reconnect != ReconnectNone {
				t.Fatalf("refused handshake: %+v", rs)
			}
			if n := srv.Stats().Sessions; n != 0 {
				t.Fatalf("%d sessions after a refused handshake", n)
			}
			c.handshake(`{"token":"good"}`)
		})
	}
}

// TestSubscriptionHook: the hook runs once per channel that took effect, after the reply's
// subscription is recorded (a Deliver from it arrives), never for a refused or repeated
// subscribe, and once for an unsubscribe.
func TestSubscriptionHook(t *testing.T) {
	srv := newTestServer(t, Config{Policy: subPolicy{}})
	type call struct {
		ch  string
		sub bool
	}
	var got []call
	srv.OnSubscription(func(info SessionInfo, ch string, sub bool) {
		got = append(got, call{ch, sub})
		if sub {
			if err := srv.Deliver(context.Background(), info.ID, ch, map[string]string{"hello": ch}); err != nil {
				t.Errorf("deliver from the hook: %v", err)
			}
		}
	})
	c := newClient(t, srv)
	c.handshake("")
	if r := c.subscribe("/open/a"); !r.ok() {
		t.Fatalf("subscribe: %+v", r)
	}
	if r := c.subscribe("/open/a"); !r.ok() {
		t.Fatalf("repeated subscribe: %+v", r)
	}
	if r := c.subscribe("/closed/b"); r.ok() {
		t.Fatalf("refused subscribe answered %+v", r)
	}
	rs := c.connect("")
	var hello bool
	for _, m := range rs {
		if m.Channel == "/open/a" && string(m.Data) == `{"hello":"/open/a"}` {
			hello = true
		}
	}
	if !hello {
		t.Fatalf("the hook's delivery did not arrive: %+v", rs)
	}
	if r := c.send(`{"channel":"/meta/unsubscribe","id":"u","clientId":"` + c.id + `","subscription":"/open/a"}`); len(r) != 1 || !r[0].ok() {
		t.Fatalf("unsubscribe: %+v", r)
	}
	want := []call{{"/open/a", true}, {"/open/a", false}}
	if !slices.Equal(got, want) {
		t.Fatalf("hook calls %v, want %v", got, want)
	}
}

// subPolicy refuses subscriptions below /closed/.
type subPolicy struct{}

func (subPolicy) CanHandshake(context.Context, HandshakeInfo) bool { return true }
func (subPolicy) CanSubscribe(_ context.Context, _ SessionInfo, ch string) bool {
	return !strings.HasPrefix(ch, "/closed/")
}
func (subPolicy) CanPublish(context.Context, SessionInfo, string, json.RawMessage) bool {
	return false
}
