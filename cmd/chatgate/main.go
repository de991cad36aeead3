package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/chatgate/chatgate/internal/config"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// cli runs the command line and returns the exit status.
func cli(args, environ []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(args[1:], environ, stdout, stderr)
	}
	res, err := config.Load(args, environ, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = checkBayeux(res.Config)
	}
	if err == nil {
		err = checkSweep(res.Config)
	}
	if err != nil {
		fmt.Fprintf(stderr, "chatgate: %v\n", err)
		return 2
	}
	log := newLogger(res.Config, stderr)
	for _, w := range res.Warnings {
		log.Warn(w)
	}
	if res.File != "" {
		log.Info("configuration file loaded", "path", res.File)
	}

	// First SIGINT/SIGTERM: graceful shutdown (cancel ctx). Second: exit now.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case s := <-sigs:
			log.Info("shutting down", "signal", s.String())
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			log.Error("second signal: exiting without finishing shutdown", "signal", s.String())
			os.Exit(1)
		case <-done:
		}
	}()
	err = serve(ctx, res, log, nil)
	close(done)
	<-watcherDone
	if err != nil {
		log.Error("chatgate stopped", "err", err)
		return 1
	}
	log.Info("chatgate stopped")
	return 0
}
