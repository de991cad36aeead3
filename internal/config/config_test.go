package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chatgate.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, args, env []string) Result {
	t.Helper()
	res, err := Load(args, env, io.Discard)
	if err != nil {
		t.Fatalf("Load(%q, %q): %v", args, env, err)
	}
	return res
}

func TestDefaultIsValid(t *testing.T) {
	res := load(t, nil, nil)
	d := Default()
	if res.Config.Addr != ":8080" || res.Config.Data != "./data" || res.Config.BayeuxTimeout != 30*time.Second {
		t.Fatalf("defaults not applied: %+v", res.Config)
	}
	if res.Config.Addr != d.Addr || res.File != "" || len(res.Warnings) != 0 {
		t.Fatalf("unexpected result %+v", res)
	}
}

func TestPrecedenceFlagOverEnvOverFileOverDefault(t *testing.T) {
	file := writeFile(t, `{
		"addr": "127.0.0.1:9001",
		"log-level": "debug",
		"log-format": "json",
		"bayeux-timeout": "5s",
		"client-publish-channels": ["/a/**", "/b/*"],
		"allowed-origins": "https://x.example.com, *.example.org",
		"bayeux-max-queue": 7,
		"bayeux-test-echo": true
	}`)
	env := []string{
		"PATH=/usr/bin",
		"CHATGATE_CONFIG=" + file,
		"CHATGATE_ADDR=127.0.0.1:9002",
		"CHATGATE_LOG_LEVEL=warn",
		"CHATGATE_BAYEUX_MAX_QUEUE=8",
	}
	args := []string{"--addr", "127.0.0.1:9003", "--bayeux-max-interval=1500ms"}
	c := load(t, args, env).Config

	checks := []struct {
		key       string
		got, want any
	}{
		{"addr (flag over env over file)", c.Addr, "127.0.0.1:9003"},
		{"log-level (env over file)", c.LogLevel, "warn"},
		{"log-format (file over default)", c.LogFmt, "json"},
		{"bayeux-timeout (file)", c.BayeuxTimeout, 5 * time.Second},
		{"bayeux-max-interval (flag)", c.BayeuxMaxInterval, 1500 * time.Millisecond},
		{"bayeux-max-queue (env over file)", c.BayeuxMaxQueue, 8},
		{"client-publish-channels (file array)", fmt.Sprint(c.ClientPublishChannels), "[/a/** /b/*]"},
		{"allowed-origins (file comma string)", fmt.Sprint(c.AllowedOrigins), "[https://x.example.com *.example.org]"},
		{"bayeux-test-echo (file)", c.BayeuxTestEcho, true},
		{"data (default)", c.Data, "./data"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.key, ch.got, ch.want)
		}
	}
	if c.SlogLevel() != slog.LevelWarn {
		t.Errorf("SlogLevel = %v", c.SlogLevel())
	}

	// --config beats CHATGATE_CONFIG.
	other := writeFile(t, `{"data": "/srv/chatgate"}`)
	res := load(t, []string{"--config", other}, env[:2])
	if res.File != other || res.Config.Data != "/srv/chatgate" || res.Config.LogFmt != "text" {
		t.Errorf("--config did not win over %s: %+v", ConfigEnv, res)
	}
}

func TestBoolFlagAndListFlag(t *testing.T) {
	c := load(t, []string{"--bayeux-test-echo", "--client-publish-channels", " /test/** , ,/bench/** "}, nil).Config
	if !c.BayeuxTestEcho {
		t.Error("bare --bayeux-test-echo did not set it")
	}
	if fmt.Sprint(c.ClientPublishChannels) != "[/test/** /bench/**]" {
		t.Errorf("list = %q", c.ClientPublishChannels)
	}
	c = load(t, []string{"--bayeux-test-echo=false"}, []string{"CHATGATE_BAYEUX_TEST_ECHO=true"}).Config
	if c.BayeuxTestEcho {
		t.Error("--bayeux-test-echo=false did not override the environment")
	}
}

func TestUnknownFileKeyIsAnErrorNamingIt(t *testing.T) {
	file := writeFile(t, `{"addr": ":9000", "bayeux-timout": "5s", "colour": "blue"}`)
	_, err := Load([]string{"--config", file}, nil, io.Discard)
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, want := range []string{`unknown key "bayeux-timout"`, `unknown key "colour"`, file} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error does not wrap ErrInvalid: %v", err)
	}
}

func TestBadValuesGiveClearErrors(t *testing.T) {
	cases := []struct {
		name       string
		args, env  []string
		file       string
		wantSubstr []string
	}{
		{"flag duration", []string{"--bayeux-timeout", "soon"}, nil, "", []string{"bayeux-timeout", `"soon" is not a duration`}},
		{"flag int", []string{"--bayeux-max-queue=lots"}, nil, "", []string{"bayeux-max-queue", "not an integer"}},
		{"unknown flag", []string{"--colour=blue"}, nil, "", []string{"colour"}},
		{"positional", []string{"serve"}, nil, "", []string{`unexpected argument "serve"`}},
		{"env int", nil, []string{"CHATGATE_BAYEUX_MAX_QUEUE=x"}, "", []string{"bayeux-max-queue", "CHATGATE_BAYEUX_MAX_QUEUE", "not an integer"}},
		{"env bool", nil, []string{"CHATGATE_BAYEUX_TEST_ECHO=maybe"}, "", []string{"bayeux-test-echo", "not a boolean"}},
		{"file duration as number", nil, nil, `{"bayeux-timeout": 30}`, []string{"bayeux-timeout", `duration string like "30s"`}},
		{"file int as string", nil, nil, `{"bayeux-max-queue": "10"}`, []string{"bayeux-max-queue", "want an integer"}},
		{"file list of numbers", nil, nil, `{"services": [1, 2]}`, []string{"services", "array of strings"}},
		{"file not an object", nil, nil, `["addr"]`, []string{"not a JSON object"}},
		{"file trailing data", nil, nil, `{} {}`, []string{"data after the JSON object"}},
		{"log format", []string{"--log-format", "xml"}, nil, "", []string{"log-format", `"xml" is not one of text, json`}},
		{"log level", []string{"--log-level", "loud"}, nil, "", []string{"log-level"}},
		{"store sync", []string{"--store-sync", "sometimes"}, nil, "", []string{"store-sync", "background, always"}},
		{"addr", []string{"--addr", "8080"}, nil, "", []string{"addr", "host:port"}},
		{"negative timeout", []string{"--bayeux-timeout", "-1s"}, nil, "", []string{"bayeux-timeout", "must be positive"}},
		{"zero queue", []string{"--bayeux-max-queue", "0"}, nil, "", []string{"bayeux-max-queue", "at least 1"}},
		{"message over request", []string{"--bayeux-max-request-bytes", "100", "--bayeux-max-message-bytes", "200"}, nil, "", []string{"bayeux-max-message-bytes", "exceeds"}},
		{"negative handshake rate", []string{"--bayeux-handshakes-per-minute", "-1"}, nil, "", []string{"bayeux-handshakes-per-minute", "must not be negative"}},
		{"nats url scheme", []string{"--nats-url", "http://user:pw@n1:4222"}, nil, "", []string{"nats-url", "scheme", "xxxxx"}},
		{"service", []string{"--services", "a b"}, nil, "", []string{"services", `"a b"`}},
		{"admin token short", nil, []string{"CHATGATE_ADMIN_TOKEN=short"}, "", []string{"admin-token", "at least 16"}},
		{"secrets key length", []string{"--secrets-key", "c2hvcnQ="}, nil, "", []string{"secrets-key", "32 bytes, got 5"}},
		{"secrets key base64", []string{"--secrets-key", "not base64!"}, nil, "", []string{"secrets-key", "not valid base64"}},
		{"replicas", []string{"--nats-replicas", "7"}, nil, "", []string{"nats-replicas", "between 0 and 5"}},
		{"creds without url", []string{"--nats-creds", "/etc/hosts"}, nil, "", []string{"nats-creds", "only applies with nats-url"}},
		{"creds missing", []string{"--nats-url", "nats://n1:4222", "--nats-creds", "/nonexistent.creds"}, nil, "", []string{"nats-creds", "/nonexistent.creds"}},
		{"sync interval", []string{"--store-sync-interval", "0s"}, nil, "", []string{"store-sync-interval", "must be positive"}},
		{"push queue", []string{"--push-queue-size", "0"}, nil, "", []string{"push-queue-size", "at least 1"}},
		{"missing file", []string{"--config", "/nonexistent/chatgate.json"}, nil, "", []string{"config file", "/nonexistent/chatgate.json"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file)}, args...)
			}
			_, err := Load(args, tc.env, io.Discard)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.wantSubstr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, secret := range []string{"short", "pw@", "not base64!"} {
				if tc.name != "service" && strings.Contains(err.Error(), secret) && !strings.Contains(strings.Join(tc.wantSubstr, " "), secret) {
					t.Errorf("error %q leaks %q", err, secret)
				}
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.LogFmt = "xml"
	c.StoreSync = "never"
	c.BayeuxMaxQueue = 0
	err := c.Validate()
	for _, key := range []string{"log-format", "store-sync", "bayeux-max-queue"} {
		if err == nil || !strings.Contains(err.Error(), key+":") {
			t.Errorf("Validate() = %v, want a problem for %s", err, key)
		}
	}
}

func TestDataOptionalWithExternalNATS(t *testing.T) {
	if _, err := Load([]string{"--data", ""}, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "data:") {
		t.Fatalf("empty data accepted without nats-url: %v", err)
	}
	c := load(t, []string{"--data", "", "--nats-url", "nats://n1:4222, tls://n2:4222"}, nil).Config
	if c.NATSURL == "" {
		t.Fatal("nats-url lost")
	}
}

func TestUnknownEnvironmentVariableWarns(t *testing.T) {
	res := load(t, nil, []string{"CHATGATE_BIN=/x", "CHATGATE_LOGLEVEL=debug", "HOME=/root"})
	got := strings.Join(res.Warnings, "\n")
	for _, want := range []string{"CHATGATE_BIN", "CHATGATE_LOGLEVEL"} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings %q do not mention %s", got, want)
		}
	}
	if strings.Contains(got, "HOME") {
		t.Errorf("warned about a non-chatgate variable: %q", got)
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	_, err := Load([]string{"--help"}, nil, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, f := range Fields() {
		if !strings.Contains(out.String(), "-"+f.Key) || !strings.Contains(out.String(), f.Env) {
			t.Errorf("usage lacks %s / %s", f.Key, f.Env)
		}
	}
}

func TestSecretsAreNeverPrinted(t *testing.T) {
	const token = "tok-0123456789abcdef"
	const key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
	c := load(t, []string{"--admin-token", token}, []string{"CHATGATE_SECRETS_KEY=" + key}).Config
	if c.AdminToken.Reveal() != token || len(c.SecretsKeyBytes()) != 32 {
		t.Fatalf("secrets not loaded")
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", c, "token", c.AdminToken)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", c, "token", c.AdminToken)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c.AdminToken), logged.String(), string(js)} {
		if strings.Contains(s, token) || strings.Contains(s, key) {
			t.Fatalf("secret printed: %s", s)
		}
	}
	if !strings.Contains(logged.String(), "[redacted]") {
		t.Errorf("redaction marker missing: %s", logged.String())
	}
}

func TestEveryFieldHasKeyAndHelp(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Fields() {
		if f.Help == "" || seen[f.Key] {
			t.Errorf("field %s: empty help or duplicate key", f.Key)
		}
		seen[f.Key] = true
	}
	// A field without a key tag could be set by no source and documented nowhere, unless it
	// is a config-file-only object (fileonly tag), documented by hand.
	all := 0
	for sf := range reflect.TypeFor[Config]().Fields() {
		if sf.Tag.Get("fileonly") == "" {
			all++
		}
	}
	if n := len(Fields()); n != all {
		t.Errorf("%d of %d Config fields have a key tag", n, all)
	}
}

// TestPushWebPushAllowedHosts: host names, .domains and IP addresses are accepted; anything
// with a scheme, port, path or wildcard is refused with the key named, so an operator who
// writes a URL learns it at start instead of silently allowing nothing.
func TestPushWebPushAllowedHosts(t *testing.T) {
	c := load(t, []string{"--push-webpush-allowed-hosts", "push.example.com, .push.example.org,127.0.0.1,::1"}, nil).Config
	if got := fmt.Sprint(c.PushWebPushAllowedHosts); got != "[push.example.com .push.example.org 127.0.0.1 ::1]" {
		t.Fatalf("parsed %s", got)
	}
	for _, bad := range []string{"https://push.example.com", "push.example.com:443", "*.example.com", "push.example.com/x", "."} {
		c := Default()
		c.PushWebPushAllowedHosts = []string{bad}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "push-webpush-allowed-hosts:") {
			t.Errorf("%q: Validate() = %v, want a push-webpush-allowed-hosts problem", bad, err)
		}
	}
}
