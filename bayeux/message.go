package bayeux

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Message is one Bayeux message as received from a client. Fields the server does not need
// to interpret (data, ext, subscription) stay raw JSON so they are passed through untouched.
type Message struct {
	Channel                  string          `json:"channel"`
	ClientID                 string          `json:"clientId,omitempty"`
	ID                       json.RawMessage `json:"id,omitempty"`
	Data                     json.RawMessage `json:"data,omitempty"`
	Ext                      json.RawMessage `json:"ext,omitempty"`
	Advice                   *ClientAdvice   `json:"advice,omitempty"`
	Version                  string          `json:"version,omitempty"`
	MinimumVersion           string          `json:"minimumVersion,omitempty"`
	SupportedConnectionTypes []string        `json:"supportedConnectionTypes,omitempty"`
	ConnectionType           string          `json:"connectionType,omitempty"`
	Subscription             json.RawMessage `json:"subscription,omitempty"`
}

// ClientAdvice is the advice a client may send (CometD sends {timeout: 0} on the first
// connect after a handshake, a failure or a reload).
type ClientAdvice struct {
	Timeout  *float64 `json:"timeout,omitempty"`
	Interval *float64 `json:"interval,omitempty"`
}

// Advice is what the server tells the client to do next. Interval is always written (the
// CometD client needs interval 0 next to reconnect "handshake").
type Advice struct {
	Reconnect       string `json:"reconnect,omitempty"`
	Interval        int64  `json:"interval"`
	Timeout         *int64 `json:"timeout,omitempty"`
	MaxInterval     int64  `json:"maxInterval,omitempty"`
	MultipleClients bool   `json:"multiple-clients,omitempty"`
}

// Reconnect advice values.
const (
	ReconnectRetry     = "retry"
	ReconnectHandshake = "handshake"
	ReconnectNone      = "none"
)

// reply is a server reply to a client message. Successful is always written.
type reply struct {
	Channel                  string          `json:"channel"`
	ID                       json.RawMessage `json:"id,omitempty"`
	ClientID                 string          `json:"clientId,omitempty"`
	Successful               bool            `json:"successful"`
	Error                    string          `json:"error,omitempty"`
	Version                  string          `json:"version,omitempty"`
	MinimumVersion           string          `json:"minimumVersion,omitempty"`
	SupportedConnectionTypes []string        `json:"supportedConnectionTypes,omitempty"`
	Advice                   *Advice         `json:"advice,omitempty"`
	Subscription             json.RawMessage `json:"subscription,omitempty"`
	Data                     json.RawMessage `json:"data,omitempty"`
	Ext                      json.RawMessage `json:"ext,omitempty"`
}

// delivery is a message pushed to subscribers. It never carries the publisher's clientId
// (impersonation) nor its id (the CometD client would match it against its own remote
// calls, whose ids are small per-client counters too).
type delivery struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
	Ext     json.RawMessage `json:"ext,omitempty"`
}

// Error is a Bayeux error, written on the wire as "code:args:message"
// (e.g. 402::session_unknown). Service handlers may return one to choose the error string
// of the publish reply.
type Error struct {
	Code    int
	Args    []string
	Message string
}

func (e *Error) Error() string {
	return strconv.Itoa(e.Code) + ":" + strings.Join(e.Args, ",") + ":" + e.Message
}

// Errors used on the wire (CometD's own strings, which both stock clients accept).
var (
	errSessionUnknown    = &Error{Code: 402, Message: "session_unknown"}
	errHandshakeDenied   = &Error{Code: 403, Message: "handshake_denied"}
	errSubscribeDenied   = &Error{Code: 403, Message: "subscribe_denied"}
	errPublishDenied     = &Error{Code: 403, Message: "publish_denied"}
	errChannelInvalid    = &Error{Code: 405, Message: "channel_invalid"}
	errChannelMissing    = &Error{Code: 400, Message: "channel_missing"}
	errSubscriptionBad   = &Error{Code: 403, Message: "subscription_invalid"}
	errDataMissing       = &Error{Code: 400, Message: "data_missing"}
	errMessageTooLarge   = &Error{Code: 413, Message: "message_too_large"}
	errConnTypes         = &Error{Code: 301, Message: "connection_types_not_supported"}
	errVersion           = &Error{Code: 300, Message: "version_unsupported"}
	errServiceFailed     = &Error{Code: 500, Message: "service_failed"}
	errTooManySessions   = &Error{Code: 403, Message: "too_many_sessions"}
	errHandshakeRate     = &Error{Code: 429, Message: "too_many_handshakes"}
	errTooManySubs       = &Error{Code: 403, Message: "too_many_subscriptions"}
	errUnknownMeta       = &Error{Code: 404, Message: "unknown_meta_channel"}
	errShuttingDown      = &Error{Code: 503, Message: "shutting_down"}
	errBadRequestMessage = errors.New("bayeux: malformed message")
)

// Limits bounds what one request may carry.
type limits struct {
	maxMessages     int
	maxMessageBytes int
}

// decodeBatch parses a request body: a JSON array of messages, a single message object, or
// a form body message=<json> (Faye's cross-origin-long-polling; the parameter may repeat).
// It never panics; any malformed input is an error (HTTP 400 / websocket close). Messages
// larger than maxMessageBytes are returned with tooLarge set so that they get an error reply.
func decodeBatch(body []byte, lim limits) ([]inMessage, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty body", errBadRequestMessage)
	}
	if b[0] != '[' && b[0] != '{' {
		// Form body: message=<json>[&message=<json>...].
		vals, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, fmt.Errorf("%w: form body: %v", errBadRequestMessage, err)
		}
		ms := vals["message"]
		if len(ms) == 0 {
			return nil, fmt.Errorf("%w: no message parameter", errBadRequestMessage)
		}
		var out []inMessage
		for _, m := range ms {
			part, err := decodeBatch([]byte(m), lim)
			if err != nil {
				return nil, err
			}
			out = append(out, part...)
			if lim.maxMessages > 0 && len(out) > lim.maxMessages {
				return nil, fmt.Errorf("%w: more than %d messages", errBadRequestMessage, lim.maxMessages)
			}
		}
		return out, nil
	}
	var raws []json.RawMessage
	if b[0] == '{' {
		raws = []json.RawMessage{b}
		if !json.Valid(b) {
			return nil, fmt.Errorf("%w: invalid JSON", errBadRequestMessage)
		}
	} else if err := json.Unmarshal(b, &raws); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadRequestMessage, err)
	}
	if lim.maxMessages > 0 && len(raws) > lim.maxMessages {
		return nil, fmt.Errorf("%w: %d messages, limit %d", errBadRequestMessage, len(raws), lim.maxMessages)
	}
	out := make([]inMessage, len(raws))
	for i, raw := range raws {
		if len(raw) == 0 || raw[0] != '{' {
			return nil, fmt.Errorf("%w: message %d is not an object", errBadRequestMessage, i)
		}
		if err := json.Unmarshal(raw, &out[i].Message); err != nil {
			return nil, fmt.Errorf("%w: message %d: %v", errBadRequestMessage, i, err)
		}
		out[i].size = len(raw)
		out[i].tooLarge = lim.maxMessageBytes > 0 && len(raw) > lim.maxMessageBytes
		out[i].ID = validID(out[i].ID)
	}
	return out, nil
}

// inMessage is a decoded message with what the decoder learnt about it.
type inMessage struct {
	Message
	size     int
	tooLarge bool
}

// validID keeps an id that is a JSON string or number of sane length; anything else is
// dropped (it would be echoed verbatim otherwise).
func validID(id json.RawMessage) json.RawMessage {
	if len(id) == 0 || len(id) > 128 {
		return nil
	}
	switch c := id[0]; {
	case c == '"':
		return id
	case c == '-' || (c >= '0' && c <= '9'):
		return id
	}
	return nil
}

// encodeArray writes the already encoded messages as one JSON array.
func encodeArray(buf *bytes.Buffer, msgs [][]byte) {
	buf.WriteByte('[')
	for i, m := range msgs {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(m)
	}
	buf.WriteByte(']')
}

// mustEncode marshals a value the server built itself; it cannot fail for our types.
func mustEncode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Our reply types only hold strings, numbers and json.RawMessage already validated
		// by the decoder, so this is unreachable; fail loudly in a way tests catch.
		panic(fmt.Sprintf("bayeux: encoding %T: %v", v, err))
	}
	return b
}

// encodeData turns a server-side payload into JSON: json.RawMessage and []byte are taken
// as already encoded JSON (validated), anything else is marshalled.
func encodeData(data any) (json.RawMessage, error) {
	switch d := data.(type) {
	case json.RawMessage:
		if !json.Valid(d) {
			return nil, errors.New("bayeux: data is not valid JSON")
		}
		return d, nil
	case []byte:
		if !json.Valid(d) {
			return nil, errors.New("bayeux: data is not valid JSON")
		}
		return d, nil
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("bayeux: encoding data: %w", err)
		}
		return b, nil
	}
}

// encodeDelivery encodes a message for subscribers once; the bytes are shared by every
// session queue it is put on.
func encodeDelivery(channel string, data, ext json.RawMessage) []byte {
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	return mustEncode(delivery{Channel: channel, Data: data, Ext: ext})
}
