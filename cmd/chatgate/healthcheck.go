package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/chatgate/chatgate/internal/config"
)

// healthcheck GETs /healthz on the local server and returns 0 when it answers 200. It exists
// for container HEALTHCHECKs: the runtime image has no shell and no curl.
func healthcheck(args, environ []string, stdout, stderr io.Writer) int {
	addr := config.Default().Addr
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, config.EnvName("addr")+"="); ok && v != "" {
			addr = v
		}
	}
	fs := flag.NewFlagSet("chatgate healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&addr, "addr", addr, "address chatgate listens on (default: "+config.EnvName("addr")+" or :8080)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	path := fs.String("path", "/healthz", "path to check (/healthz or /readyz)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	url, err := healthURL(addr, *path)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s: %s %s\n", url, resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s", url, body)
	return 0
}

// healthURL turns a listen address into a URL to dial: a wildcard or empty host means this
// machine.
func healthURL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("addr %q: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
