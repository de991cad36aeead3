package bayeux

import (
	"context"
	"encoding/json"
	"net/http"
)

// Policy is the server's security hook, asked before a handshake, a subscription and a
// client publish to a broadcast channel. Its methods run on the request's goroutine and must
// be quick; they must not call back into the Server for the same session.
type Policy interface {
	// CanHandshake decides whether a new session may be created; ext is the handshake's ext.
	CanHandshake(ctx context.Context, info HandshakeInfo) bool
	// CanSubscribe decides a subscription of session s to channel (a name or a pattern) that
	// is not a meta or service channel. Returning false answers 403::subscribe_denied.
	CanSubscribe(ctx context.Context, s SessionInfo, channel string) bool
	// CanPublish is asked for a client publish to a broadcast channel that
	// Config.ClientPublishChannels does not allow; true lets it through.
	CanPublish(ctx context.Context, s SessionInfo, channel string, data json.RawMessage) bool
}

// HandshakeInfo is what a policy knows about a handshake.
type HandshakeInfo struct {
	Browser   string          // BAYEUX_BROWSER id the session will belong to
	Transport string          // transport the handshake came on
	Remote    string          // remote address of the connection
	Ext       json.RawMessage // the handshake's ext
	// Header is the header of the HTTP request that carried the handshake (for websocket,
	// the upgrade request's), for a policy that authenticates by a cookie and checks
	// Origin. Read only.
	Header http.Header
	// Host is that request's Host.
	Host string
}

// HandshakeAuthorizer may be implemented by a Policy that wants to say why a handshake is
// refused: a non-nil *Error is the handshake reply's error (e.g. 401::unauthorized for a bad
// credential in ext) and CanHandshake is not asked.
type HandshakeAuthorizer interface {
	AuthorizeHandshake(ctx context.Context, info HandshakeInfo) *Error
}

// HandshakeAuthenticator may be implemented by a Policy that learns who a handshake is from
// its HTTP request (a cookie, which a websocket's later messages do not carry again): the
// principal it returns is kept with the session (SessionInfo.Principal). It is asked
// instead of AuthorizeHandshake and CanHandshake; a non-nil *Error refuses the handshake.
type HandshakeAuthenticator interface {
	AuthenticateHandshake(ctx context.Context, info HandshakeInfo) (principal any, err *Error)
}

// handshakeVerdict asks the policy about a handshake: a nil error lets it through, with
// the principal to keep with the session.
func handshakeVerdict(ctx context.Context, p Policy, info HandshakeInfo) (any, *Error) {
	if a, ok := p.(HandshakeAuthenticator); ok {
		return a.AuthenticateHandshake(ctx, info)
	}
	if a, ok := p.(HandshakeAuthorizer); ok {
		return nil, a.AuthorizeHandshake(ctx, info)
	}
	if !p.CanHandshake(ctx, info) {
		return nil, errHandshakeDenied
	}
	return nil, nil
}
