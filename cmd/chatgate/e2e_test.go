package main

import (
	"errors"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBinaryServesOpsEndpointsAndStopsOnSIGTERM(t *testing.T) {
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--shutdown-delay", "300ms")

	if code, body := httpGet(t, p.url("/healthz")); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	if code, body := httpGet(t, p.url("/readyz")); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	code, metrics := httpGet(t, p.url("/metrics"))
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, name := range []string{"process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "go_goroutines"} {
		if _, ok := metricValue(metrics, name); !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	p.signal(syscall.SIGTERM)
	// During the shutdown delay the process still serves, but is no longer ready.
	eventually(t, 5*time.Second, "/readyz reports draining", func() bool {
		code, body := httpGet(t, p.url("/readyz"))
		return code == 503 && strings.Contains(body, "draining")
	})
	if code := p.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.logText())
	}
	if !strings.Contains(p.logText(), "chatgate stopped") {
		t.Errorf("no final log line:\n%s", p.logText())
	}
}

func TestSecondSignalForcesExit(t *testing.T) {
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--shutdown-delay", "1h")
	p.signal(syscall.SIGTERM)
	eventually(t, 5*time.Second, "/readyz reports draining", func() bool {
		code, _ := httpGet(t, p.url("/readyz"))
		return code == 503
	})
	p.signal(syscall.SIGINT)
	if code := p.waitExit(10 * time.Second); code != 1 {
		t.Fatalf("exit code %d after a second signal, want 1", code)
	}
	if !strings.Contains(p.logText(), "second signal") {
		t.Errorf("forced exit not logged:\n%s", p.logText())
	}
}

func TestRestartOnSameAddressAndData(t *testing.T) {
	data := t.TempDir()
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", data)
	addr := p.addr
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.waitExit(10 * time.Second)
	q := startProcess(t, "--addr", addr, "--data", data)
	if q.addr != addr {
		t.Fatalf("restarted on %s, want %s", q.addr, addr)
	}
	if code, _ := httpGet(t, q.url("/readyz")); code != 200 {
		t.Fatalf("/readyz after SIGKILL restart = %d", code)
	}
	q.signal(syscall.SIGTERM)
	if code := q.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestInvalidConfigurationExits2(t *testing.T) {
	cmd := exec.Command(binary(t), "--log-format", "xml", "--bayeux-timeout", "soon")
	out, err := cmd.CombinedOutput()
	var code int
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 2 || !strings.Contains(string(out), "bayeux-timeout") {
		t.Fatalf("exit %d (%v), output:\n%s", code, err, out)
	}
}

func TestHealthcheckSubcommand(t *testing.T) {
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir())
	out, err := exec.Command(binary(t), "healthcheck", "--addr", p.addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("healthcheck against a live server: %v\n%s", err, out)
	}
	cmd := exec.Command(binary(t), "healthcheck", "--path", "/readyz")
	cmd.Env = []string{"CHATGATE_ADDR=" + p.addr}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("healthcheck with CHATGATE_ADDR: %v\n%s", err, out)
	}
	p.signal(syscall.SIGTERM)
	p.waitExit(15 * time.Second)
	err = exec.Command(binary(t), "healthcheck", "--addr", p.addr, "--timeout", "2s").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("healthcheck against a stopped server: %v, want exit 1", err)
	}
}

func TestPushAdminAPIMountedWithSecrets(t *testing.T) {
	const token = "e2e-admin-token-0123456789"
	p := startProcessEnv(t, []string{
		"CHATGATE_ADMIN_TOKEN=" + token,
		"CHATGATE_SECRETS_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}, "--addr", "127.0.0.1:0", "--data", t.TempDir())

	req, _ := http.NewRequest(http.MethodGet, p.url("/admin/push/credentials"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without token: %d, want 401", resp.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"credentials"`) {
		t.Fatalf("with token: %d %s", resp.StatusCode, body)
	}
	_, metrics := httpGet(t, p.url("/metrics"))
	if !strings.Contains(metrics, "chatgate_push_queued{") {
		t.Errorf("/metrics lacks the push dispatcher's metrics")
	}
	if strings.Contains(p.logText(), token) {
		t.Errorf("admin token logged")
	}
	p.signal(syscall.SIGTERM)
	if code := p.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// Without secrets-key nothing can be stored: the push admin API is replaced by one that
// says why on GET /status and answers 503 elsewhere, behind the admin credentials.
func TestNoPushAdminAPIWithoutSecretsKey(t *testing.T) {
	const token = "no-secrets-admin-token-123"
	p := startProcess(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--admin-token", token)
	checkPushAdminOff(t, p, token)
}

func checkPushAdminOff(t *testing.T, p *process, token string) {
	t.Helper()
	if code, _ := httpGet(t, p.url("/admin/push/status")); code != 401 {
		t.Fatalf("push admin status without credentials: %d", code)
	}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", p.url(path), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := get("/admin/push/status"); code != 200 || !strings.Contains(b, `"enabled":false`) || !strings.Contains(b, "secrets-key is not set") {
		t.Fatalf("push admin status without secrets-key: %d %s", code, b)
	}
	if code, b := get("/admin/push/credentials"); code != 503 || !strings.Contains(b, `"code":"unavailable"`) {
		t.Fatalf("push admin credentials without secrets-key: %d %s", code, b)
	}
}

// Without admin-token or admin-user, the first start prints a generated token once; it keeps
// working after a restart, which does not print it again.
func TestFirstRunAdminTokenPrintedOnce(t *testing.T) {
	env := []string{"CHATGATE_SECRETS_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	data := t.TempDir()
	p := startProcessEnv(t, env, "--addr", "127.0.0.1:0", "--data", data)
	m := regexp.MustCompile(`admin_token=(cg_[A-Za-z0-9_-]{43})`).FindStringSubmatch(p.logText())
	if m == nil {
		t.Fatalf("no generated admin token in the log:\n%s", p.logText())
	}
	token := m[1]
	get := func(p *process, tok string) int {
		req, _ := http.NewRequest(http.MethodGet, p.url("/admin/push/credentials"), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(p, token); code != 200 {
		t.Fatalf("generated token refused: %d", code)
	}
	if code := get(p, token+"x"); code != 401 {
		t.Fatalf("wrong token: %d, want 401", code)
	}
	p.signal(syscall.SIGTERM)
	if code := p.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	q := startProcessEnv(t, env, "--addr", "127.0.0.1:0", "--data", data)
	if strings.Contains(q.logText(), token) || strings.Contains(q.logText(), "admin_token=") {
		t.Fatalf("token printed again after a restart:\n%s", q.logText())
	}
	if code := get(q, token); code != 200 {
		t.Fatalf("first-run token refused after a restart: %d", code)
	}
}

func TestBadPushTemplatesFileRefusedAtStart(t *testing.T) {
	path := writeConfig(t, `{"en": {"Mesage": {"body": "{text}"}}}`)
	cmd := exec.Command(binary(t), "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--push-templates", path)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(string(out), "push-templates") || !strings.Contains(string(out), "Mesage") {
		t.Fatalf("exit %v, output:\n%s", err, out)
	}
}

// TestLostFirstRunTokenRecoveredWithAdminToken performs the recovery docs/operations.md
// gives for a lost first-run token with the embedded store (which has no network listener, so
// the NATS CLI cannot reach its KV): restart on the same data with admin-token set; the new
// token opens the admin APIs and the lost one no longer does.
func TestLostFirstRunTokenRecoveredWithAdminToken(t *testing.T) {
	env := []string{"CHATGATE_SECRETS_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	data := t.TempDir()
	p := startProcessEnv(t, env, "--addr", "127.0.0.1:0", "--data", data)
	m := regexp.MustCompile(`admin_token=(cg_[A-Za-z0-9_-]{43})`).FindStringSubmatch(p.logText())
	if m == nil {
		t.Fatalf("no generated admin token in the log:\n%s", p.logText())
	}
	lost := m[1]
	p.signal(syscall.SIGTERM)
	if code := p.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	const chosen = "recovered-admin-token-0123456789"
	q := startProcessEnv(t, append(env, "CHATGATE_ADMIN_TOKEN="+chosen), "--addr", "127.0.0.1:0", "--data", data)
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/admin/push/credentials", chosen, 200},
		{"/workflow/v1/chats?checkDue=1", chosen, 200},
		{"/admin/push/credentials", lost, 401},
		{"/workflow/v1/chats?checkDue=1", lost, 401},
	} {
		req, _ := http.NewRequest(http.MethodGet, q.url(c.path), nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s with the %s token: %d, want %d", c.path, map[bool]string{true: "chosen", false: "lost"}[c.token == chosen], resp.StatusCode, c.want)
		}
	}
}
