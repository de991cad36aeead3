package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// gms-startup: time from process start to ready with the chats stored under -data.
// With -chats N > 0 it first starts -bin on -data, creates N chats over REST (measuring memory
// per chat as gms-idle does) and stops it with SIGTERM; then it starts the binary -restarts
// times on the same -data, each time measuring from just before exec to the "chat core ready"
// log line (its chats= count is reported), to "listening" and to the first /readyz 200, then
// stops it with SIGTERM and measures the shutdown.

// StartupRun is one start of the binary.
type StartupRun struct {
	CoreReadyMS   float64 `json:"core_ready_ms"` // exec → "chat core ready" logged
	ListeningMS   float64 `json:"listening_ms"`  // exec → "listening" logged
	ReadyzMS      float64 `json:"readyz_ms"`     // exec → first GET /readyz 200
	StopMS        float64 `json:"stop_ms"`       // SIGTERM → process exited
	ChatsLoaded   int64   `json:"chats_loaded"`  // chats= of the "chat core ready" line
	RSSBytes      float64 `json:"rss_bytes_after_ready"`
	HeapInuseByte float64 `json:"heap_inuse_bytes_after_ready"`
}

// StartupResult is the gms-startup outcome.
type StartupResult struct {
	Bin         string        `json:"bin"`
	Data        string        `json:"data"`
	ServerFlags []string      `json:"server_flags,omitempty"`
	Seeded      int64         `json:"seeded_chats"`
	Seed        *ServerMemory `json:"seed_memory,omitempty"`
	SeedRates   *GMSRates     `json:"seed_rates,omitempty"`
	Runs        []StartupRun  `json:"runs"`
}

var (
	listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)
	coreReadyRE = regexp.MustCompile(`msg="chat core ready".*\bchats=(\d+)`)
)

// serverProc is one chatgate process started by the tool.
type serverProc struct {
	cmd      *exec.Cmd
	started  time.Time
	mu       sync.Mutex
	tail     []string // last log lines, for error messages
	coreAt   time.Time
	chats    int64
	addr     chan string
	address  string
	listenAt time.Time
	exited   chan struct{}
	waitErr  error
}

const serverStartLimit = 5 * time.Minute

func startServer(ctx context.Context, bin, data string, flags []string, log *slog.Logger) (*serverProc, error) {
	args := append([]string{"--addr", "127.0.0.1:0", "--data", data}, flags...)
	p := &serverProc{addr: make(chan string, 1), exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = io.Discard
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line, now := sc.Text(), time.Now()
			log.Debug("server", "line", line)
			p.mu.Lock()
			if p.tail = append(p.tail, line); len(p.tail) > 40 {
				p.tail = p.tail[1:]
			}
			if m := coreReadyRE.FindStringSubmatch(line); m != nil && p.coreAt.IsZero() {
				p.coreAt = now
				p.chats, _ = strconv.ParseInt(m[1], 10, 64)
			}
			if m := listeningRE.FindStringSubmatch(line); m != nil && p.listenAt.IsZero() {
				p.listenAt, p.address = now, m[1]
				p.addr <- m[1]
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		<-readDone
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-p.addr:
	case <-p.exited:
		return nil, fmt.Errorf("chatgate exited before listening (%v):\n%s", p.waitErr, p.logTail())
	case <-time.After(serverStartLimit):
		p.kill()
		return nil, fmt.Errorf("chatgate not listening after %s:\n%s", serverStartLimit, p.logTail())
	case <-ctx.Done():
		p.kill()
		return nil, ctx.Err()
	}
	return p, nil
}

func (p *serverProc) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

func (p *serverProc) baseURL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "http://" + p.address
}

// waitReadyz polls /readyz every 2 ms until 200 and returns when that answer arrived.
func (p *serverProc) waitReadyz(ctx context.Context, base string) (time.Time, error) {
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(serverStartLimit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := hc.Get(base + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("/readyz not 200 within %s", serverStartLimit)
}

// stop sends SIGTERM and waits for the exit; it kills after a minute.
func (p *serverProc) stop() (time.Duration, error) {
	t0 := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		p.kill()
		return time.Since(t0), errors.New("chatgate did not exit within 1m of SIGTERM; killed")
	}
	d := time.Since(t0)
	if p.waitErr != nil {
		return d, fmt.Errorf("chatgate exit: %w\n%s", p.waitErr, p.logTail())
	}
	return d, nil
}

func (p *serverProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func runStartup(ctx context.Context, cfg Config, opts options, log *slog.Logger) (Summary, error) {
	if opts.Data == "" {
		return Summary{}, errors.New("gms-startup needs -data (the directory to restart on)")
	}
	if err := os.MkdirAll(opts.Data, 0o755); err != nil {
		return Summary{}, err
	}
	flags := strings.Fields(opts.ServerFlags)
	out := &StartupResult{Bin: opts.Bin, Data: opts.Data, ServerFlags: flags}
	sum := Summary{Result: Result{Mode: cfg.Mode, Transport: "rest"}}
	if cfg.Chats > 0 {
		p, err := startServer(ctx, opts.Bin, opts.Data, flags, log)
		if err != nil {
			return Summary{}, err
		}
		base := p.baseURL()
		if _, err := p.waitReadyz(ctx, base); err != nil {
			p.kill()
			return Summary{}, err
		}
		seed := cfg
		seed.Mode, seed.URL, seed.Procs, seed.Index = "gms-idle", base+"/genesys/cometd", 1, 0
		o := opts
		o.MetricsURL = base + "/metrics"
		log.Info("seeding chats", "chats", cfg.Chats, "server", base)
		s, err := runIdle(ctx, seed, o, nil, log)
		if err != nil {
			p.kill()
			return Summary{}, err
		}
		sum.Result, sum.Server, sum.GMSRates = s.Result, s.Server, s.GMSRates
		sum.Mode = cfg.Mode
		out.Seed = s.Server
		if s.GMS != nil {
			out.Seeded = s.GMS.Created
			out.SeedRates = ratesOf(s.GMS)
		}
		if _, err := p.stop(); err != nil {
			return Summary{}, err
		}
	}
	for i := range max(0, opts.Restarts) {
		p, err := startServer(ctx, opts.Bin, opts.Data, flags, log)
		if err != nil {
			return Summary{}, err
		}
		base := p.baseURL()
		readyAt, err := p.waitReadyz(ctx, base)
		if err != nil {
			p.kill()
			return Summary{}, err
		}
		p.mu.Lock()
		run := StartupRun{
			CoreReadyMS: msOf(p.coreAt.Sub(p.started)), ListeningMS: msOf(p.listenAt.Sub(p.started)),
			ReadyzMS: msOf(readyAt.Sub(p.started)), ChatsLoaded: p.chats,
		}
		if p.coreAt.IsZero() {
			run.CoreReadyMS = -1
		}
		p.mu.Unlock()
		if m, err := scrape(ctx, base+"/metrics", serverMetrics); err == nil {
			run.RSSBytes, run.HeapInuseByte = m["process_resident_memory_bytes"], m["go_memstats_heap_inuse_bytes"]
		}
		d, err := p.stop()
		if err != nil {
			return Summary{}, err
		}
		run.StopMS = msOf(d)
		log.Info("restart", "n", i+1, "chats", run.ChatsLoaded, "core_ready_ms", run.CoreReadyMS, "readyz_ms", run.ReadyzMS)
		out.Runs = append(out.Runs, run)
	}
	sum.Startup = out
	return sum, nil
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *StartupResult) print(w io.Writer) {
	fmt.Fprintf(w, "startup: %s --data %s %s (seeded %d chats this run)\n", r.Bin, r.Data, strings.Join(r.ServerFlags, " "), r.Seeded)
	if r.SeedRates != nil {
		fmt.Fprintf(w, "seeding: %.0f creations/s, create p50 %.2f ms p99 %.2f ms\n", r.SeedRates.CreatesPerSec, r.SeedRates.Create.P50, r.SeedRates.Create.P99)
	}
	for i, run := range r.Runs {
		fmt.Fprintf(w, "start %d: chats loaded %d; chat core ready %.0f ms, listening %.0f ms, /readyz 200 %.0f ms; RSS %.1f MiB heap_inuse %.1f MiB; SIGTERM→exit %.0f ms\n",
			i+1, run.ChatsLoaded, run.CoreReadyMS, run.ListeningMS, run.ReadyzMS, run.RSSBytes/(1<<20), run.HeapInuseByte/(1<<20), run.StopMS)
	}
}
