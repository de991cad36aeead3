package main

import (
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRoutingNoticeFromConfigAndReload runs the binary with a routing section in the config
// file: with no agent logged in, a customer's new chat waits and its transcript (REST
// refresh, as the customer reads it) carries the configured notice with the queue position;
// after SIGHUP the next chat gets the new text, and a bad routing option is refused whole.
func TestRoutingNoticeFromConfigAndReload(t *testing.T) {
	cfg := writeConfig(t, `{"chat": {"routing": {"no-agent-notice": "All agents are busy. You are number {position}."}}}`)
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--config", cfg)
	async := url.Values{"nickname": {"Eve"}, "userData[GCTI_Chat_AsyncMode]": {"true"}}

	notice := func(c *gmsChat) string {
		var text string
		eventually(t, 10*time.Second, "the no-agent notice", func() bool {
			for _, m := range c.refresh(1).Messages {
				if m.Type == "Notice" && m.UserData["routing-notice"] == "no-agent" {
					text = m.Text
					return true
				}
			}
			return false
		})
		return text
	}
	c1, _ := createChat(t, p, restSvc, async)
	if got := notice(c1); got != "All agents are busy. You are number 1." {
		t.Fatalf("notice %q", got)
	}

	if err := os.WriteFile(cfg, []byte(`{"chat": {"routing": {"priority": "high"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	eventually(t, 5*time.Second, "the bad file refused", func() bool {
		return strings.Contains(p.logText(), "chat options not reloaded")
	})
	c2, _ := createChat(t, p, restSvc, async)
	if got := notice(c2); got != "All agents are busy. You are number 2." {
		t.Fatalf("notice after a refused reload %q", got)
	}

	if err := os.WriteFile(cfg, []byte(`{"chat": {"routing": {"no-agent-notice": "Please wait ({position} ahead of you, counting you)."}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	eventually(t, 5*time.Second, "options reloaded", func() bool {
		return strings.Contains(p.logText(), "chat options reloaded")
	})
	c3, _ := createChat(t, p, restSvc, async)
	if got := notice(c3); got != "Please wait (3 ahead of you, counting you)." {
		t.Fatalf("notice after the reload %q", got)
	}
}
