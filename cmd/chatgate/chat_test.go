package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/internal/config"
	"github.com/chatgate/chatgate/web/chatoptions"
)

func TestWarnWhenBayeuxTimeoutReachesFlexDisconnect(t *testing.T) {
	o, err := chatoptions.Open(context.Background(), chatoptions.Config{File: config.ChatOptions{"slow": {"settings": {"flex-disconnect-timeout": "20"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	cfg := config.Default() // bayeux-timeout 30 s, default flex-disconnect-timeout 45 s
	warnFlexVsBayeux(log, cfg, o)
	if out := buf.String(); !strings.Contains(out, "scope=chat.slow") || strings.Contains(out, "scope=chat ") {
		t.Fatalf("want a warning for chat.slow only, got:\n%s", out)
	}
}
