package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/config"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			_, _ = io.WriteString(os.Stderr, "goleak: "+err.Error()+"\n")
			code = 1
		}
	}
	os.Exit(code)
}

// TestServeStopsEverything runs the wiring in-process and checks that cancelling its
// context stops every goroutine it started (goleak in TestMain) and returns no error.
func TestServeStopsEverything(t *testing.T) {
	res, err := config.Load([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrCh := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, res, slog.New(slog.DiscardHandler), func(a net.Addr) { addrCh <- a })
	}()
	var addr net.Addr
	select {
	case addr = <-addrCh:
	case err := <-done:
		t.Fatalf("serve returned early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not listen")
	}
	if code, _ := httpGet(t, "http://"+addr.String()+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
}

func TestServeFailsOnBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	res, err := config.Load([]string{"--addr", ln.Addr().String(), "--data", t.TempDir()}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), res, slog.New(slog.DiscardHandler), nil)
	if err == nil {
		t.Fatal("serve on a busy address succeeded")
	}
}
