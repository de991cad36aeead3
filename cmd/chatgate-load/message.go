package main

import (
	"encoding/json"
	"strconv"
)

// message is the subset of a Bayeux message the load tool reads and writes.
type message struct {
	Channel                  string          `json:"channel"`
	ClientID                 string          `json:"clientId,omitempty"`
	ID                       string          `json:"id,omitempty"`
	Data                     json.RawMessage `json:"data,omitempty"`
	Ext                      json.RawMessage `json:"ext,omitempty"`
	Advice                   *advice         `json:"advice,omitempty"`
	Successful               *bool           `json:"successful,omitempty"`
	Error                    string          `json:"error,omitempty"`
	Subscription             json.RawMessage `json:"subscription,omitempty"`
	Version                  string          `json:"version,omitempty"`
	SupportedConnectionTypes []string        `json:"supportedConnectionTypes,omitempty"`
	ConnectionType           string          `json:"connectionType,omitempty"`
}

type advice struct {
	Reconnect string `json:"reconnect,omitempty"`
	Interval  *int64 `json:"interval,omitempty"`
	Timeout   *int64 `json:"timeout,omitempty"`
}

func (m *message) ok() bool { return m.Successful != nil && *m.Successful }

func quoted(s string) json.RawMessage { return json.RawMessage(strconv.Quote(s)) }

var zero int64

// stamp is what publishers put in data: send time (ns since epoch), sequence, padding.
type stamp struct {
	T int64  `json:"t"`
	S int64  `json:"s"`
	P string `json:"p,omitempty"`
}

// ackExt is the ack extension field on handshake and connect messages.
type ackExt struct {
	Ack json.RawMessage `json:"ack,omitempty"`
}

// batchOf reads ext.ack (a batch number) from a connect reply; 0 when absent.
func batchOf(ext json.RawMessage) int64 {
	if len(ext) == 0 {
		return 0
	}
	var e ackExt
	if json.Unmarshal(ext, &e) != nil || len(e.Ack) == 0 {
		return 0
	}
	n, err := strconv.ParseInt(string(e.Ack), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// ackEnabled tells whether a handshake reply's ext accepted the ack extension (true or
// {"enabled":true,...}).
func ackEnabled(ext json.RawMessage) bool {
	var e ackExt
	if len(ext) == 0 || json.Unmarshal(ext, &e) != nil {
		return false
	}
	if string(e.Ack) == "true" {
		return true
	}
	var o struct {
		Enabled bool `json:"enabled"`
	}
	return json.Unmarshal(e.Ack, &o) == nil && o.Enabled
}
