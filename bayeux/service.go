package bayeux

import (
	"context"
	"encoding/json"
	"fmt"
)

// ServiceHandler handles a client publish on a /service/** channel. It runs on the request's
// goroutine (for a websocket, the connection's reader), so messages of one client are handled
// in order; a slow handler delays that client only. It may answer in two ways:
//   - req.Reply(data): the publish reply itself carries data (what CometD's remoteCall and
//     Faye expect as the answer to their message);
//   - Server.Deliver(ctx, req.Session.ID, channel, data): a message pushed to the session on
//     any channel, now or later (what the GMS chat API does on /service/chatV2/<service>).
//
// A returned *Error is sent as the publish reply's error; any other error as
// "500::service_failed" (the text is logged, not sent).
type ServiceHandler func(ctx context.Context, req *ServiceRequest) error

// ServiceRequest is one publish on a service channel.
type ServiceRequest struct {
	Session SessionInfo
	Channel string
	ID      string          // the message id ("" if none)
	Data    json.RawMessage // the message data (nil if none)
	Ext     json.RawMessage // the message ext (nil if none)

	reply json.RawMessage
}

// Reply sets the data the publish reply carries. data is marshalled to JSON unless it is
// json.RawMessage or []byte.
func (r *ServiceRequest) Reply(data any) error {
	raw, err := encodeData(data)
	if err != nil {
		return err
	}
	r.reply = raw
	return nil
}

type serviceRoute struct {
	pattern string
	handler ServiceHandler
}

// HandleService registers a handler for a service channel or pattern (/service/echo,
// /service/chatV2/*, /service/**). The first registered pattern that matches wins. Register
// handlers before serving. It panics on a pattern outside /service/ (a programming error).
func (s *Server) HandleService(pattern string, h ServiceHandler) {
	if !isService(pattern) || !validChannel(pattern, true) || h == nil {
		panic(fmt.Sprintf("bayeux: HandleService: invalid service pattern %q or nil handler", pattern))
	}
	s.hookMu.Lock()
	s.services = append(s.services, serviceRoute{pattern: pattern, handler: h})
	s.hookMu.Unlock()
}

func (s *Server) serviceFor(channel string) ServiceHandler {
	s.hookMu.RLock()
	defer s.hookMu.RUnlock()
	for _, r := range s.services {
		if Match(r.pattern, channel) {
			return r.handler
		}
	}
	return nil
}

// idString renders a message id for handlers: the string value, or the number's text.
func idString(id json.RawMessage) string {
	if len(id) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(id, &s) == nil {
		return s
	}
	return string(id)
}
