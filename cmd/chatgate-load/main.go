package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := mainErr(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chatgate-load:", err)
		os.Exit(1)
	}
}

// options are the parent's own settings beyond the worker Config.
type options struct {
	MetricsURL string
	Settle     time.Duration
	JSONPath   string

	// GMS modes
	GCWait      time.Duration // gms-idle: longest wait for the server's next GC
	Bin         string        // gms-startup: chatgate binary
	Data        string        // gms-startup: its --data
	Restarts    int           // gms-startup: starts measured
	ServerFlags string        // gms-startup: extra server flags (space-separated)
}

func parseFlags(args []string, stderr io.Writer) (Config, options, int, error) {
	fs := flag.NewFlagSet("chatgate-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	var o options
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080/genesys/cometd", "Bayeux endpoint")
	fs.StringVar(&c.Mode, "mode", "latency", "latency: publish and measure; idle: hold sessions (memory); "+
		"gms-rest, gms-cometd: customers create chats and send messages; gms-idle: memory per async chat; gms-startup: restart time with stored chats")
	fs.StringVar(&c.Transport, "transport", "websocket", "subscriber transport: websocket or long-polling")
	fs.StringVar(&c.PubTransport, "pub-transport", "", "publisher transport (default: -transport)")
	fs.IntVar(&c.Clients, "clients", 100, "subscriber sessions in total")
	fs.IntVar(&c.Channels, "channels", 10, "channels; subscriber i subscribes <prefix><i mod channels>")
	fs.StringVar(&c.Prefix, "prefix", "/bench/", "channel prefix (the server must allow clients to publish there)")
	fs.IntVar(&c.Publishers, "publishers", 1, "publisher sessions in total")
	fs.Float64Var(&c.Rate, "rate", 100, "publishes per second, all publishers together")
	fs.IntVar(&c.Size, "size", 100, "approximate message data size in bytes")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "publishing time (latency) or holding time (idle)")
	fs.DurationVar(&c.Drain, "drain", 5*time.Second, "longest wait for in-flight messages after publishing")
	fs.IntVar(&c.Sources, "sources", 4, "dial from 127.0.0.1 … 127.0.0.N (≈28k ports each)")
	fs.BoolVar(&c.Ack, "ack", false, "enable the ack extension")
	fs.IntVar(&c.Concurrency, "concurrency", 100, "sessions opened at once per process")
	fs.IntVar(&c.Procs, "procs", 1, "worker processes (keep clients/procs under ~18,000: 20,000 fds per process)")
	fs.StringVar(&o.MetricsURL, "metrics-url", "", "server /metrics (default: same host as -url; 'none' to skip)")
	fs.DurationVar(&o.Settle, "settle", 5*time.Second, "idle mode: wait after opening before reading server memory")
	fs.StringVar(&o.JSONPath, "json", "", "also write the JSON summary to this file ('-' = stdout)")
	fs.StringVar(&c.Service, "service", "customer-support", "gms modes: chat service name")
	fs.IntVar(&c.Messages, "messages", 10, "gms-rest, gms-cometd: messages each customer sends (-clients customers)")
	fs.IntVar(&c.Chats, "chats", 1000, "gms-idle, gms-startup: chats to create (gms-startup: 0 = only restart on what -data holds)")
	fs.BoolVar(&c.Async, "async", true, "gms modes: request async chats (userData GCTI_Chat_AsyncMode=true)")
	fs.DurationVar(&o.GCWait, "gc-wait", 150*time.Second, "gms-idle, gms-startup: longest wait for the server's next GC before reading memory (the runtime forces one every 2 min)")
	fs.StringVar(&o.Bin, "bin", "bin/chatgate", "gms-startup: chatgate binary to start")
	fs.StringVar(&o.Data, "data", "", "gms-startup: --data directory to start it on")
	fs.IntVar(&o.Restarts, "restarts", 3, "gms-startup: measured starts")
	fs.StringVar(&o.ServerFlags, "server-flags", "", "gms-startup: extra chatgate flags, space-separated (e.g. \"--store-sync always\")")
	index := fs.Int("worker-index", -1, "internal: run as worker process N of -procs")
	if err := fs.Parse(args); err != nil {
		return c, o, 0, err
	}
	if c.PubTransport == "" {
		c.PubTransport = c.Transport
	}
	for _, t := range []string{c.Transport, c.PubTransport} {
		if t != "websocket" && t != "long-polling" {
			return c, o, 0, fmt.Errorf("unknown transport %q", t)
		}
	}
	if c.Mode != "latency" && c.Mode != "idle" && !slices.Contains(gmsModes, c.Mode) {
		return c, o, 0, fmt.Errorf("unknown mode %q", c.Mode)
	}
	if isGMSMode(c.Mode) {
		if c.Mode != "gms-startup" {
			if err := checkLoopback(c.URL); err != nil {
				return c, o, 0, err
			}
		}
		if c.Mode == "gms-startup" {
			c.Procs = 1
		}
		if c.Mode == "gms-idle" || c.Mode == "gms-startup" {
			c.Messages = 0 // idle chats: created, nothing sent
		}
		if c.Clients < 0 || c.Messages < 0 || c.Chats < 0 || c.Service == "" {
			return c, o, 0, errors.New("need -clients, -messages, -chats ≥ 0 and a -service")
		}
	}
	if c.Mode == "idle" {
		c.Publishers = 0
	}
	if c.Channels < 1 || c.Clients < 0 || c.Procs < 1 || c.Sources < 1 || c.Sources > 254 {
		return c, o, 0, errors.New("need -channels ≥ 1, -clients ≥ 0, -procs ≥ 1, 1 ≤ -sources ≤ 254")
	}
	if o.MetricsURL == "" {
		u, err := url.Parse(c.URL)
		if err != nil {
			return c, o, 0, fmt.Errorf("parsing -url: %w", err)
		}
		o.MetricsURL = u.Scheme + "://" + u.Host + "/metrics"
	}
	return c, o, *index, nil
}

func mainErr(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, opts, index, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if index >= 0 {
		cfg.Index = index
		return childMain(ctx, cfg, stdin, stdout, log)
	}
	var sum Summary
	if isGMSMode(cfg.Mode) {
		sum, err = runGMS(ctx, cfg, opts, args, log)
	} else {
		sum, err = run(ctx, cfg, opts, args, log)
	}
	if err != nil {
		return err
	}
	sum.Print(stdout)
	if opts.JSONPath != "" {
		b, err := json.MarshalIndent(sum, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding summary: %w", err)
		}
		if opts.JSONPath == "-" {
			_, err = fmt.Fprintf(stdout, "%s\n", b)
		} else {
			err = os.WriteFile(opts.JSONPath, append(b, '\n'), 0o644)
		}
		if err != nil {
			return fmt.Errorf("writing summary: %w", err)
		}
	}
	if sum.OpenFailed > 0 {
		return fmt.Errorf("%d sessions failed to open", sum.OpenFailed)
	}
	if g := sum.GMS; g != nil && (g.CreateFailed > 0 || g.SendFailed > 0) {
		return fmt.Errorf("%d chat creations and %d messages failed", g.CreateFailed, g.SendFailed)
	}
	return nil
}

// run drives one measurement: open everywhere, (idle) read server memory, run, close.
func run(ctx context.Context, cfg Config, opts options, args []string, log *slog.Logger) (Summary, error) {
	var before map[string]float64
	metrics := opts.MetricsURL != "none"
	if metrics {
		var err error
		if before, err = scrape(ctx, opts.MetricsURL, serverMetrics); err != nil {
			log.Warn("no server metrics", "err", err)
			metrics = false
		}
	}
	st, err := newStage(ctx, cfg, args, log)
	if err != nil {
		return Summary{}, err
	}
	log.Info("opening sessions", "clients", cfg.Clients, "publishers", cfg.Publishers, "transport", cfg.Transport, "procs", cfg.Procs)
	if err := st.opened(ctx); err != nil {
		_ = st.close(context.WithoutCancel(ctx))
		return Summary{}, err
	}
	var after map[string]float64
	if metrics && cfg.Mode == "idle" {
		log.Info("sessions open; settling before reading server memory", "settle", opts.Settle)
		t := time.NewTimer(opts.Settle)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		var err error
		if after, err = scrape(ctx, opts.MetricsURL, serverMetrics); err != nil {
			log.Warn("reading server metrics", "err", err)
		}
	}
	log.Info("running", "mode", cfg.Mode, "duration", cfg.Duration, "rate", cfg.Rate)
	res, err := st.results(ctx)
	if metrics && cfg.Mode == "latency" {
		after, _ = scrape(ctx, opts.MetricsURL, serverMetrics)
	}
	cerr := st.close(context.WithoutCancel(ctx))
	if err != nil {
		return Summary{}, err
	}
	if cerr != nil {
		log.Warn("closing workers", "err", cerr)
	}
	sum := Summarize(res)
	if after != nil {
		sum.Server = memoryDelta(before, after, res.Opened)
	}
	return sum, nil
}
