package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigFileChatScopes(t *testing.T) {
	p := writeFile(t, `{
		"addr": "127.0.0.1:0",
		"chat": {"settings": {"async-idle-alert": 600, "flex-push-on-join": true},
		         "inactivity-control": {"message-close": "bye"}},
		"chat.customer-support": {"settings": {"async-idle-alert": "60"}}
	}`)
	res, err := Load([]string{"--config", p}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config.Chat
	if got := c.Section("", "settings")["async-idle-alert"]; got != "600" {
		t.Errorf("default async-idle-alert = %q", got)
	}
	if got := c.Section("", "settings")["flex-push-on-join"]; got != "true" {
		t.Errorf("flex-push-on-join = %q", got)
	}
	if got := c.Section("", "inactivity-control")["message-close"]; got != "bye" {
		t.Errorf("message-close = %q", got)
	}
	if got := c.Section("customer-support", "settings")["async-idle-alert"]; got != "60" {
		t.Errorf("service async-idle-alert = %q", got)
	}
	if got := c.Scopes(); strings.Join(got, ",") != ",customer-support" {
		t.Errorf("scopes = %q", got)
	}
}

func TestConfigFileChatScopeErrors(t *testing.T) {
	for name, body := range map[string]string{
		"not an object":     `{"chat": 5}`,
		"option not scalar": `{"chat": {"settings": {"a": {"b": 1}}}}`,
		"bad section":       `{"chat": {"Settings!": {"a": 1}}}`,
		"bad scope":         `{"chat./x": {"settings": {"a": 1}}}`,
		"null value":        `{"chat": {"settings": {"a": null}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load([]string{"--config", writeFile(t, body)}, nil, nil)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestLoadChatOptionsReadsOnlyChatScopes(t *testing.T) {
	p := writeFile(t, `{"addr": "ignored here", "unknown-key": 1, "chat.sales": {"settings": {"async-idle-close": 30}}}`)
	o, err := LoadChatOptions(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Section("sales", "settings")["async-idle-close"]; got != "30" {
		t.Fatalf("async-idle-close = %q", got)
	}
	if _, err := LoadChatOptions(writeFile(t, `{"chat": {"settings": {"x": []}}}`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad value: err = %v", err)
	}
	if _, err := LoadChatOptions(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("missing file: err = %v", err)
	}
}
