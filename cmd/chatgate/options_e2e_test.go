package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatgate/chatgate/web/chatoptions"
)

// TestLiveOptionsOverFileAndRestart runs the binary with the live chat options API: an
// override of the service's routing notice set through /admin/options reaches the router
// (the next chat's no-agent notice), stays on top of the file through a SIGHUP that changes
// the same option in the file (while the file's other changes apply), survives a restart
// (KV), and DELETE hands the option back to the file. The view names each value's source.
func TestLiveOptionsOverFileAndRestart(t *testing.T) {
	const token = "options-e2e-admin-token-0123456789"
	file := func(notice, close string) string {
		return fmt.Sprintf(`{"chat.%s": {"routing": {"no-agent-notice": %q}, "settings": {"async-idle-close": %s}}}`, restSvc, notice, close)
	}
	cfg := writeConfig(t, file("file: number {position}", "600"))
	data := t.TempDir()
	env := []string{"CHATGATE_ADMIN_TOKEN=" + token}
	p := startProcessEnv(t, env, "--addr", "127.0.0.1:0", "--data", data, "--config", cfg)
	async := url.Values{"nickname": {"Eve"}, "userData[GCTI_Chat_AsyncMode]": {"true"}}
	nextNotice := func() string {
		t.Helper()
		c, _ := createChat(t, p, restSvc, async)
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
	path := chatoptions.Prefix + "/services/" + restSvc
	view := func() chatoptions.View {
		t.Helper()
		var v chatoptions.View
		if code := agentHTTP(t, p, "GET", path, token, nil, &v); code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
		return v
	}
	if got := nextNotice(); got != "file: number 1" {
		t.Fatalf("file notice %q", got)
	}
	if code := agentHTTP(t, p, "PUT", path, token, map[string]any{"routing": map[string]any{"no-agent-notice": "api: number {position}"}}, nil); code != 200 {
		t.Fatalf("PUT: %d", code)
	}
	if got := nextNotice(); got != "api: number 2" {
		t.Fatalf("notice after the override %q", got)
	}

	// SIGHUP: the file's notice changes below the override; its close applies.
	if err := os.WriteFile(cfg, []byte(file("file2: number {position}", "900")), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	eventually(t, 5*time.Second, "options reloaded", func() bool { return strings.Contains(p.logText(), "chat options reloaded") })
	if got := nextNotice(); got != "api: number 3" {
		t.Fatalf("notice after SIGHUP %q (the override must stay)", got)
	}
	v := view()
	if got := v.Sections["routing"]["no-agent-notice"]; got.Source != chatoptions.SourceOverride || got.Value != "api: number {position}" {
		t.Fatalf("notice after SIGHUP %+v", got)
	}
	if got := v.Sections["settings"]["async-idle-close"]; got != (chatoptions.Value{Value: "900", Source: chatoptions.SourceFile, From: "chat." + restSvc}) {
		t.Fatalf("close after SIGHUP %+v", got)
	}
	if !strings.Contains(p.logText(), "chat options: overrides set through the admin API") || strings.Contains(p.logText(), "api: number") {
		t.Fatal("the change is not logged, or logged with its value")
	}

	// A restart keeps the override.
	p.signal(syscall.SIGTERM)
	if code := p.waitExit(20 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	p = startProcessEnv(t, env, "--addr", p.addr, "--data", data, "--config", cfg)
	if got := nextNotice(); got != "api: number 4" {
		t.Fatalf("notice after a restart %q", got)
	}

	// DELETE: the file's value again.
	if code := agentHTTP(t, p, "DELETE", path, token, nil, nil); code != 200 {
		t.Fatalf("DELETE: %d", code)
	}
	if got := nextNotice(); got != "file2: number 5" {
		t.Fatalf("notice after DELETE %q", got)
	}
	if got := view().Sections["routing"]["no-agent-notice"]; got.Source != chatoptions.SourceFile {
		t.Fatalf("after DELETE %+v", got)
	}
}
