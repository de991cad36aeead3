package gmschat

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkParseRESTSend is the wire cost of one REST send: path split, urlencoded decode,
// field rules.
func BenchmarkParseRESTSend(b *testing.B) {
	const body = "secureKey=4ee15d7e1c343c8e&userId=007555677B20000A&alias=117&message=Hello+there%2C+I+need+help+with+my+order&messageType=text&transcriptPosition=8"
	b.ReportAllocs()
	for b.Loop() {
		r, _ := http.NewRequest(http.MethodPost, "/genesys/2/chat/customer-support/00048aAPEQJ8000U/send", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if _, err := ParseREST(r, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseCometSend is the wire cost of one CometD sendMessage data object.
func BenchmarkParseCometSend(b *testing.B) {
	data := []byte(`{"operation":"sendMessage","secureKey":"4ee15d7e1c343c8e","message":"Hello there, I need help with my order","messageType":"text"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseComet("customer-support", data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeResponse encodes a response with three events.
func BenchmarkEncodeResponse(b *testing.B) {
	ev := Event{From: From{Nickname: "Ann", ParticipantID: 1, Type: "Client"}, Index: 1, Type: "Message", UTCTime: 1432845088000, Text: "Hello there, I need help with my order"}
	r := OK("00048aAPEQJ8000U", "007555677B20000A", "117", false, 4, []Event{ev, ev, ev})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(r); err != nil {
			b.Fatal(err)
		}
	}
}
