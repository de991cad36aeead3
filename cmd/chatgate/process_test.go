package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/testwait"
)

// The end-to-end tests run the real binary, built once per test run.
var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "chatgate-bin-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(buildDir, "chatgate")
		args := []string{"build", "-o", buildPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command(goTool(), append(args, ".")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// process is one running chatgate binary with its log captured.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	log    bytes.Buffer
	exited chan struct{}
	err    error // from Wait, valid after exited is closed
}

var listeningLine = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startProcess runs the binary with args and waits for its "listening" log line.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	return startProcessEnv(t, nil, args...)
}

// startProcessEnv is startProcess with extra environment variables.
func startProcessEnv(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	return startCommand(t, env, exec.Command(binary(t), args...))
}

// startCommand runs cmd (the binary, possibly through a wrapper such as a shell that
// lowers a resource limit) like startProcessEnv.
func startCommand(t *testing.T, env []string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{t: t, exited: make(chan struct{})}
	p.cmd = cmd
	p.cmd.Env = append(append(os.Environ(), "GORACE=halt_on_error=1"), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrCh := make(chan string, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listeningLine.FindStringSubmatch(line); m != nil {
				select {
				case addrCh <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		<-readDone // Wait closes the pipe; read it to the end first
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("chatgate log:\n%s", p.logText())
		}
	})
	select {
	case p.addr = <-addrCh:
	case <-p.exited:
		t.Fatalf("chatgate exited before listening (%v):\n%s", p.err, p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("chatgate did not log msg=listening within 30s:\n%s", p.logText())
	}
	return p
}

func (p *process) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *process) url(path string) string { return "http://" + p.addr + path }

func (p *process) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// waitExit waits up to d for the process to exit and returns its exit code.
func (p *process) waitExit(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		p.t.Fatalf("chatgate did not exit within %s:\n%s", d, p.logText())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatalf("wait: %v", p.err)
	}
	return 0
}

// httpGet returns status and body of a GET.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// eventually is testwait.Until (kept as a name: many tests of this package use it).
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, d, what, cond)
}

// metricValue finds the value of the sample "name" (with labels, if given) in a
// Prometheus text exposition.
func metricValue(body, sample string) (string, bool) {
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v, true
		}
	}
	return "", false
}
