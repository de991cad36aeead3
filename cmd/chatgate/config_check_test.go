package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestBayeuxSettingsRefusedAtLoad: the Bayeux settings follow the bayeux package's rules
// (bayeux.Config.Validate), applied when the configuration is loaded, so a value
// bayeux.NewServer would refuse is a configuration error (exit status 2, every problem
// named) before anything starts — /a//b used to pass the configuration check and fail later.
func TestBayeuxSettingsRefusedAtLoad(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"empty segment", []string{"--client-publish-channels", "/a//b"}, []string{"client-publish-channels", `"/a//b"`}},
		{"meta", []string{"--client-publish-channels", "/meta/handshake"}, []string{"client-publish-channels", `"/meta/handshake"`}},
		{"wildcard inside", []string{"--client-publish-channels", "/a/*/b"}, []string{`"/a/*/b"`}},
		{"origin scheme", []string{"--allowed-origins", "ftp://x.example.com"}, []string{"allowed-origins", `"ftp://x.example.com"`, "scheme"}},
		{"origin path", []string{"--allowed-origins", "https://x.example.com/shop"}, []string{`"https://x.example.com/shop"`}},
		{"public origin path", []string{"--public-origins", "https://chat.example.com/chat"}, []string{"public-origins", `"https://chat.example.com/chat"`}},
		{"two at once", []string{"--client-publish-channels", "/a//b", "--allowed-origins", "ftp://y"}, []string{`"/a//b"`, `"ftp://y"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, c.args...)
			if code := cli(args, nil, io.Discard, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			for _, w := range c.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "listening") {
				t.Errorf("started despite the bad setting:\n%s", stderr.String())
			}
		})
	}
}

// TestSweepSettingsRefusedAtLoad: stuck-strategy follows chatcore/sweep's names
// (sweep.ParseStrategy) and the sweep durations are checked at load: exit status 2.
func TestSweepSettingsRefusedAtLoad(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"strategy", []string{"--stuck-strategy", "reroute"}, "stuck-strategy"},
		{"strategy case", []string{"--stuck-strategy", "Restore"}, "stuck-strategy"},
		{"negative retention", []string{"--retention", "-1s"}, "retention"},
		{"zero interval", []string{"--sweep-interval", "0s"}, "sweep-interval"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, c.args...)
			if code := cli(args, nil, io.Discard, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, stderr.String())
			}
		})
	}
}
