package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// session is one Bayeux client of the load run, whatever its transport.
type session interface {
	// open handshakes, subscribes to channels and returns after the first connect reply.
	open(ctx context.Context, channels []string) error
	// run drives the connect loop until ctx ends, passing delivered messages to the sink.
	run(ctx context.Context)
	// publish sends one message; the server's acknowledgement reaches the sink (publishAck).
	publish(ctx context.Context, channel string, data []byte) error
	// close sends /meta/disconnect (best effort) and releases the connection.
	close(ctx context.Context)
}

// sink receives every non-meta message a session is delivered.
type sink interface {
	deliver(channel string, data json.RawMessage, at time.Time)
	// publishAck counts the server's reply to one publish.
	publishAck(ok bool)
	// event counts protocol incidents (connect cycles, re-handshakes, read errors) by name.
	event(name string)
}

var (
	errUnsuccessful = errors.New("bayeux: unsuccessful reply")
	errNoReply      = errors.New("bayeux: reply missing")
)

// connectTimeout bounds one held connect on the client side: the server's advised timeout
// plus CometD's maxNetworkDelay.
func connectTimeout(serverTimeoutMS int64) time.Duration {
	if serverTimeoutMS <= 0 {
		serverTimeoutMS = 30000
	}
	return time.Duration(serverTimeoutMS)*time.Millisecond + 10*time.Second
}
