package natsserver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startT(t *testing.T, o Options) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c
}

func TestEmbeddedPersistsAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, sync := range []SyncPolicy{SyncBackground, SyncAlways} {
		t.Run(string(sync), func(t *testing.T) {
			c := startT(t, Options{DataDir: dir, Sync: sync})
			if !c.Embedded() || c.Replicas() != 1 || c.ClientURL() != "" {
				t.Fatalf("embedded=%v replicas=%d url=%q", c.Embedded(), c.Replicas(), c.ClientURL())
			}
			if err := c.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			// Idempotent creation: the second start calls the same constructors.
			kv, err := c.KV(ctx, jetstream.KeyValueConfig{Bucket: "T", Storage: jetstream.FileStorage})
			if err != nil {
				t.Fatal(err)
			}
			prev, err := kv.Get(ctx, "k")
			var n byte
			switch {
			case errors.Is(err, jetstream.ErrKeyNotFound):
			case err != nil:
				t.Fatal(err)
			default:
				n = prev.Value()[0]
			}
			if _, err := kv.Put(ctx, "k", []byte{n + 1}); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := c.Close(ctx); err != nil {
				t.Fatalf("second Close: %v", err)
			}

			c = startT(t, Options{DataDir: dir, Sync: sync})
			defer c.Close(ctx)
			kv, err = c.KV(ctx, jetstream.KeyValueConfig{Bucket: "T", Storage: jetstream.FileStorage})
			if err != nil {
				t.Fatal(err)
			}
			got, err := kv.Get(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if got.Value()[0] != n+1 {
				t.Fatalf("value after restart = %d, want %d", got.Value()[0], n+1)
			}
		})
	}
}

func TestListenerOnlyWhenAsked(t *testing.T) {
	ctx := context.Background()
	srv := startT(t, Options{DataDir: t.TempDir(), ListenHost: "127.0.0.1", ListenPort: -1})
	defer srv.Close(ctx)
	url := srv.ClientURL()
	if url == "" {
		t.Fatal("no client URL although a listener was asked for")
	}
	// The same package's external mode talks to it over TCP.
	ext := startT(t, Options{ExternalURL: url, Replicas: 1})
	defer ext.Close(ctx)
	if ext.Embedded() || ext.Replicas() != 1 {
		t.Fatalf("external: embedded=%v replicas=%d", ext.Embedded(), ext.Replicas())
	}
	if _, err := ext.Stream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := ext.JS.Publish(ctx, "s.x", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	s, err := srv.JS.Stream(ctx, "S")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, "s.x")
	if err != nil || string(m.Data) != "hi" {
		t.Fatalf("embedded side sees %v, %v", m, err)
	}
}

func TestExternalDefaultsToR3(t *testing.T) {
	ctx := context.Background()
	srv := startT(t, Options{DataDir: t.TempDir(), ListenHost: "127.0.0.1", ListenPort: -1})
	defer srv.Close(ctx)
	ext := startT(t, Options{ExternalURL: srv.ClientURL()})
	defer ext.Close(ctx)
	if ext.Replicas() != 3 {
		t.Fatalf("replicas = %d, want 3", ext.Replicas())
	}
	// A single server cannot hold R3: creation must fail loudly, not silently degrade.
	if _, err := ext.KV(ctx, jetstream.KeyValueConfig{Bucket: "R3"}); err == nil {
		t.Fatal("R3 bucket on a single non-clustered server succeeded")
	}
	// Readiness says so too: the store cannot write what chatgate would write.
	if err := ext.Ready(ctx); !errors.Is(err, ErrWriteFailed) || !strings.Contains(err.Error(), "replicas") {
		t.Fatalf("Ready with an R3 store on one server = %v", err)
	}
	if err := srv.Ready(ctx); err != nil {
		t.Fatalf("Ready of the embedded server = %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Start(ctx, Options{}); err == nil {
		t.Fatal("Start without DataDir or ExternalURL succeeded")
	}
	if _, err := Start(ctx, Options{DataDir: t.TempDir(), Sync: "sometimes"}); err == nil {
		t.Fatal("unknown sync policy accepted")
	}
	_, err := Start(ctx, Options{ExternalURL: "nats://user:secret@127.0.0.1:1", StartTimeout: 300 * time.Millisecond})
	if err == nil {
		t.Fatal("connect to a closed port succeeded")
	}
	if got := err.Error(); strings.Contains(got, "secret") {
		t.Fatalf("error leaks the password: %s", got)
	}
}

func TestParseSyncPolicy(t *testing.T) {
	for in, want := range map[string]SyncPolicy{"": SyncBackground, "background": SyncBackground, "always": SyncAlways} {
		got, err := ParseSyncPolicy(in)
		if err != nil || got != want {
			t.Errorf("ParseSyncPolicy(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseSyncPolicy("never"); err == nil {
		t.Error("never accepted")
	}
}
