package routing

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSettings(t *testing.T) {
	s, err := ParseSettings(map[string]map[string]string{
		"":      {"offer-timeout": "20", "reject-cooldown": "5", "last-agent-window": "0", "keep-ready-on-timeout": "true", "customer-key": "crm-id", "priority": "1", "no-agent-notice": "wait"},
		"vip":   {"queue": "sales", "priority": "10"},
		"plain": {},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.OfferTimeout != 20*time.Second || s.RejectCooldown != 5*time.Second || s.LastAgentWindow >= 0 || !s.KeepReadyOnTimeout || s.CustomerKey != "crm-id" {
		t.Fatalf("%+v", s)
	}
	if s.Services["vip"] != (Service{Queue: "sales", Priority: 10, NoAgentNotice: "wait"}) || s.Services["plain"] != (Service{Priority: 1, NoAgentNotice: "wait"}) {
		t.Fatalf("services %+v", s.Services)
	}
	var c Config
	s.Apply(&c)
	if c.service("plain").Queue != "plain" || c.service("other") != (Service{Queue: "other", Priority: 1, NoAgentNotice: "wait"}) {
		t.Fatalf("config %+v", c)
	}
	if d, _ := ParseSettings(nil); d.OfferTimeout != DefaultOfferTimeout || d.LastAgentWindow != DefaultLastAgentWindow {
		t.Fatalf("defaults %+v", d)
	}
	_, err = ParseSettings(map[string]map[string]string{"": {"offer-timeout": "0", "queue": "x"}, "s": {"priority": "p"}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "offer-timeout") || !strings.Contains(err.Error(), "queue") || !strings.Contains(err.Error(), "chat.s") {
		t.Fatalf("errors: %v", err)
	}
}
