// Command webpushfake runs push/pushtest's local Web Push service (RFC 8030 endpoint that
// checks the VAPID authorization and decrypts the RFC 8291 body like a browser would) as a
// process, for the browser tests in test/browser, which are written in Node and cannot
// link the Go fake. A browser's own push service cannot be reached offline, so the test
// stubs pushManager.subscribe to hand out a subscription on this fake instead.
//
// It writes the fake's TLS certificate (PEM) to -cert, so chatgate can be started with
// SSL_CERT_FILE pointing at it (Go's standard override of the system roots), and prints
// one JSON line on stdout: {"push": "https://127.0.0.1:P", "control": "http://127.0.0.1:Q"}.
// The control listener serves
//
//	POST /subscriptions → {"endpoint", "keys": {"p256dh", "auth"}} (a new key pair and
//	                       auth secret; the form of PushSubscription.toJSON()). With a body
//	                       {"applicationServerKey": "<base64url>"} the subscription is
//	                       bound to that key, as a real push service binds the key the
//	                       browser subscribed with: a push signed with another key is
//	                       refused with 403
//	GET  /messages      → [{"subscription", "payload", "ttl", "urgency", "topic", "subject",
//	                       "vapidKey"}] (payload: the decrypted body as a string; vapidKey:
//	                       the application server key whose signature was verified)
//
// It exits when stdin closes or on SIGTERM/SIGINT.
package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/chatgate/chatgate/push/pushtest"
)

func main() {
	certOut := flag.String("cert", "", "file to write the push service's TLS certificate to (PEM)")
	vapid := flag.String("vapid", "", "accept only this application server key (base64url); empty accepts any")
	flag.Parse()
	if *certOut == "" {
		log.Fatal("webpushfake: -cert is required")
	}
	if err := run(*certOut, *vapid); err != nil {
		log.Fatal(err)
	}
}

func run(certOut, vapid string) error {
	f := pushtest.StartWebPush(0)
	defer f.Close()
	f.VAPIDPublicKey = vapid
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Server.Certificate().Raw})
	if err := os.WriteFile(certOut, cert, 0o600); err != nil {
		return fmt.Errorf("webpushfake: %w", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /subscriptions", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ApplicationServerKey string `json:"applicationServerKey"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
			return
		}
		_, endpoint, p256dh, auth := f.SubscribeWithKey(body.ApplicationServerKey)
		writeJSON(w, map[string]any{"endpoint": endpoint, "keys": map[string]string{"p256dh": p256dh, "auth": auth}})
	})
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, _ *http.Request) {
		type message struct {
			Subscription string `json:"subscription"`
			Payload      string `json:"payload"`
			TTL          int    `json:"ttl"`
			Urgency      string `json:"urgency"`
			Topic        string `json:"topic"`
			Subject      string `json:"subject"`
			VAPIDKey     string `json:"vapidKey"`
		}
		out := []message{}
		for _, m := range f.Messages() {
			out = append(out, message{m.Subscription, string(m.Plaintext), m.TTL, m.Urgency, m.Topic, m.Subject, m.VAPIDKey})
		}
		writeJSON(w, out)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("webpushfake: %w", err)
	}
	control := &http.Server{Handler: mux}
	go func() { _ = control.Serve(ln) }()
	defer control.Close()

	line, _ := json.Marshal(map[string]string{"push": f.Server.URL, "control": "http://" + ln.Addr().String()})
	fmt.Println(string(line))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); stop() }()
	<-ctx.Done()
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
