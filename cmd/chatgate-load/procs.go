package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The parent and its child processes speak in lines: a child prints "ready <json>" after
// opening its sessions and waits for "go"; after its run it prints "result <json>" and waits for
// "close", then disconnects its sessions and exits. The parent releases every child at the same
// time, so publishing starts only when every subscriber everywhere is subscribed.

type readyLine struct {
	Opened     int64 `json:"opened"`
	OpenFailed int64 `json:"open_failed"`
}

// stage is one synchronisation point a controller drives.
type stage interface {
	// opened waits until every worker has opened its sessions.
	opened(ctx context.Context) error
	// results releases the workers, then collects and merges their results.
	results(ctx context.Context) (Result, error)
	// close disconnects everything and waits for the workers to end.
	close(ctx context.Context) error
}

// loadWorker is one process's share of a run: the Bayeux fan-out worker (worker) or a GMS
// chat API worker (gmsWorker).
type loadWorker interface {
	// open prepares (opens sessions) without starting the measured run.
	open(ctx context.Context)
	// run performs the measured run and returns what this process saw.
	run(ctx context.Context) Result
	// close releases every session and connection.
	close(ctx context.Context)
	// openCounts reports sessions opened and failed by open.
	openCounts() (opened, failed int64)
}

// newLoadWorker picks the worker for cfg.Mode.
func newLoadWorker(cfg Config, log *slog.Logger) loadWorker {
	if isGMSMode(cfg.Mode) {
		return newGMSWorker(cfg, log)
	}
	return newWorker(cfg, log)
}

// inProcess runs one worker in this process.
type inProcess struct {
	w loadWorker
}

func (p *inProcess) opened(ctx context.Context) error            { p.w.open(ctx); return nil }
func (p *inProcess) results(ctx context.Context) (Result, error) { return p.w.run(ctx), nil }
func (p *inProcess) close(ctx context.Context) error {
	p.w.close(ctx)
	return nil
}

// children runs one worker per child process (this binary, re-executed).
type children struct {
	procs []*child
}

type child struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  chan error
}

// newStage runs the workers in this process (-procs 1) or in -procs re-executed children.
func newStage(ctx context.Context, cfg Config, args []string, log *slog.Logger) (stage, error) {
	if cfg.Procs == 1 {
		return &inProcess{w: newLoadWorker(cfg, log)}, nil
	}
	cs, err := startChildren(ctx, cfg, args, log)
	if err != nil {
		return nil, err
	}
	return cs, nil
}

func startChildren(ctx context.Context, cfg Config, args []string, log *slog.Logger) (*children, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding own binary: %w", err)
	}
	cs := &children{}
	for i := range cfg.Procs {
		cmd := exec.CommandContext(ctx, self, append(append([]string(nil), args...), "-worker-index="+strconv.Itoa(i))...)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, fmt.Errorf("child %d stdin: %w", i, err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, fmt.Errorf("child %d stdout: %w", i, err)
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting child %d: %w", i, err)
		}
		c := &child{cmd: cmd, in: in, lines: make(chan string, 4), done: make(chan error, 1)}
		go func() {
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 1<<20), 16<<20)
			for sc.Scan() {
				c.lines <- sc.Text()
			}
			close(c.lines)
			c.done <- cmd.Wait()
		}()
		cs.procs = append(cs.procs, c)
		log.Debug("started worker process", "index", i, "pid", cmd.Process.Pid)
	}
	return cs, nil
}

func (c *child) expect(ctx context.Context, prefix string) (string, error) {
	for {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case line, ok := <-c.lines:
			if !ok {
				return "", fmt.Errorf("worker process ended before %q", prefix)
			}
			if rest, found := strings.CutPrefix(line, prefix+" "); found {
				return rest, nil
			}
		}
	}
}

func (cs *children) each(ctx context.Context, fn func(i int, c *child) error) error {
	errs := make([]error, len(cs.procs))
	var wg sync.WaitGroup
	for i, c := range cs.procs {
		wg.Go(func() { errs[i] = fn(i, c) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (cs *children) opened(ctx context.Context) error {
	return cs.each(ctx, func(i int, c *child) error {
		if _, err := c.expect(ctx, "ready"); err != nil {
			return fmt.Errorf("worker %d: %w", i, err)
		}
		return nil
	})
}

func (cs *children) results(ctx context.Context) (Result, error) {
	for _, c := range cs.procs {
		if _, err := io.WriteString(c.in, "go\n"); err != nil {
			return Result{}, fmt.Errorf("releasing worker: %w", err)
		}
	}
	var mu sync.Mutex
	var total Result
	err := cs.each(ctx, func(i int, c *child) error {
		line, err := c.expect(ctx, "result")
		if err != nil {
			return fmt.Errorf("worker %d: %w", i, err)
		}
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("worker %d result: %w", i, err)
		}
		mu.Lock()
		total.Merge(r)
		mu.Unlock()
		return nil
	})
	return total, err
}

func (cs *children) close(ctx context.Context) error {
	return cs.each(ctx, func(i int, c *child) error {
		_, _ = io.WriteString(c.in, "close\n")
		_ = c.in.Close()
		select {
		case err := <-c.done:
			if err != nil {
				return fmt.Errorf("worker %d: %w", i, err)
			}
			return nil
		case <-time.After(60 * time.Second):
			_ = c.cmd.Process.Kill()
			return fmt.Errorf("worker %d did not exit", i)
		}
	})
}

// childMain is the worker side of the protocol above.
func childMain(ctx context.Context, cfg Config, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	w := newLoadWorker(cfg, log)
	w.open(ctx)
	sc := bufio.NewScanner(stdin)
	opened, failed := w.openCounts()
	ready, _ := json.Marshal(readyLine{Opened: opened, OpenFailed: failed})
	fmt.Fprintf(stdout, "ready %s\n", ready)
	waitFor := func(word string) error {
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == word {
				return nil
			}
		}
		return fmt.Errorf("parent went away before %q", word)
	}
	if err := waitFor("go"); err != nil {
		w.close(ctx)
		return err
	}
	res := w.run(ctx)
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encoding result: %w", err)
	}
	fmt.Fprintf(stdout, "result %s\n", b)
	_ = waitFor("close")
	w.close(ctx)
	return nil
}
