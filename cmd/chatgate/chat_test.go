package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/config"
)

func TestLiveOptionsLayersDefaultsAndServices(t *testing.T) {
	o, err := newLiveOptions(config.ChatOptions{
		"":      {"settings": {"async-idle-alert": "600", "async-idle-close": "60"}},
		"sales": {"settings": {"async-idle-alert": "30"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Options("other").Settings.AsyncIdleAlert; got != 600*time.Second {
		t.Errorf("default scope alert = %v", got)
	}
	sales := o.Options("sales").Settings
	if sales.AsyncIdleAlert != 30*time.Second || sales.AsyncIdleClose != 60*time.Second {
		t.Errorf("sales = alert %v close %v, want 30s over the [chat] 60s close", sales.AsyncIdleAlert, sales.AsyncIdleClose)
	}
	// A bad replacement is refused whole; the running table stays.
	err = o.replace(config.ChatOptions{"": {"settings": {"async-idle-alert": "5"}}, "sales": {"settings": {"nope": "1"}}})
	if !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("replace with an unknown option: %v", err)
	}
	if got := o.Options("other").Settings.AsyncIdleAlert; got != 600*time.Second {
		t.Errorf("after a refused replace the default alert is %v", got)
	}
}

func TestWarnWhenBayeuxTimeoutReachesFlexDisconnect(t *testing.T) {
	o, err := newLiveOptions(config.ChatOptions{"slow": {"settings": {"flex-disconnect-timeout": "20"}}})
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

// TestLiveOptionsRoutingSection: the routing section of each scope goes to the router, not
// to chatcore (which would refuse it), and a bad routing option refuses the whole file.
func TestLiveOptionsRoutingSection(t *testing.T) {
	o, err := newLiveOptions(config.ChatOptions{
		"":    {"routing": {"offer-timeout": "20", "no-agent-notice": "wait"}, "settings": {"async-idle-alert": "600"}},
		"vip": {"routing": {"queue": "sales", "priority": "10"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rs := o.Routing()
	if rs.OfferTimeout != 20*time.Second || rs.Services["vip"].Queue != "sales" || rs.Services["vip"].Priority != 10 || rs.Services["vip"].NoAgentNotice != "wait" {
		t.Fatalf("routing settings %+v", rs)
	}
	if got := o.Options("vip").Settings.AsyncIdleAlert; got != 600*time.Second {
		t.Fatalf("chat options lost beside the routing section: %v", got)
	}
	if err := o.replace(config.ChatOptions{"vip": {"routing": {"priority": "high"}}}); !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("bad routing option: %v", err)
	}
	if o.Routing().Services["vip"].Priority != 10 {
		t.Fatal("a refused file replaced the routing settings")
	}
}
