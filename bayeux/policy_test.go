package bayeux

import (
	"context"
	"encoding/json"
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
