package bayeux

import (
	"encoding/json"
	"strconv"
	"time"
)

// ackState is the server side of CometD's acknowledge extension (guaranteed, ordered
// server→client delivery). Every /meta/connect reply closes a batch (ext.ack = n); the next
// connect acknowledges the last batch the client received. Messages of a batch that was not
// acknowledged are sent again, first, in the next connect reply under a new batch number.
// With ack on, messages reach the client only through connect replies, so the batch order
// is the delivery order.
//
// Because every reply resends everything unacknowledged, all messages in flight always
// belong to the latest batch; one slice and one number describe them.
type ackState struct {
	enabled       bool
	next          int64    // number of the next batch (starts at 1)
	inflight      [][]byte // sent in batch inflightBatch, not yet acknowledged
	inflightBatch int64
}

// acknowledge applies a connect's ext.ack and returns the encoded size it freed.
func (a *ackState) acknowledge(batch int64) (freed int) {
	if batch >= a.inflightBatch && a.inflightBatch > 0 {
		freed = sizeOf(a.inflight)
		clear(a.inflight)
		a.inflight = nil
	}
	return freed
}

// extIn is what the server reads from a handshake or connect ext.
type extIn struct {
	Ack      json.RawMessage `json:"ack"`
	Timesync *timesyncIn     `json:"timesync"`
}

// timesyncIn is the client's timesync data: tc (client time at send, ms), l (lag), o (offset).
type timesyncIn struct {
	TC float64 `json:"tc"`
	L  float64 `json:"l"`
	O  float64 `json:"o"`
	ts int64   // server receive time, ms
}

// parseExt reads ack and timesync; malformed ext is ignored (passed through elsewhere).
func parseExt(raw json.RawMessage, now time.Time) (e extIn) {
	if len(raw) == 0 || raw[0] != '{' {
		return e
	}
	if json.Unmarshal(raw, &e) != nil {
		return extIn{}
	}
	if e.Timesync != nil {
		e.Timesync.ts = now.UnixMilli()
	}
	return e
}

// ackRequested reports whether a handshake's ext.ack asks for the extension.
func (e extIn) ackRequested() bool { return string(e.Ack) == "true" }

// ackBatch reads a connect's ext.ack batch number.
func (e extIn) ackBatch() (int64, bool) {
	if len(e.Ack) == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(e.Ack), 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return int64(f), true
}

type timesyncOut struct {
	TC float64 `json:"tc"`
	TS int64   `json:"ts"`
	P  int64   `json:"p"`
	A  int64   `json:"a"`
}

// replyExt builds a connect reply's ext: the closed ack batch and the timesync answer.
func replyExt(batch int64, ack bool, ts *timesyncIn) json.RawMessage {
	if !ack && ts == nil {
		return nil
	}
	var e struct {
		Ack      *int64       `json:"ack,omitempty"`
		Timesync *timesyncOut `json:"timesync,omitempty"`
	}
	if ack {
		e.Ack = &batch
	}
	if ts != nil {
		now := time.Now().UnixMilli()
		e.Timesync = &timesyncOut{TC: ts.TC, TS: ts.ts, P: now - ts.ts, A: int64(ts.TC+ts.O+ts.L) - ts.ts}
	}
	return mustEncode(e)
}
