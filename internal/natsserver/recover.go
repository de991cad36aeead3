package natsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrWriteFailed is wrapped by Ready while the embedded store has stopped accepting writes
// after a write error and is being restarted.
var ErrWriteFailed = errors.New("natsserver: store cannot write")

// criticalWriteError is how nats-server reports that a stream's file store hit a write
// error (EMFILE "too many open files", ENOSPC, EIO, ...). From then on that store refuses
// every write until the server is restarted (nats-server keeps the error for the life of
// the stream); the restart reloads the stream from its files.
const criticalWriteError = "Critical write error"

// Restart back-off: a store that fails again right after a restart (a disk that stays full,
// a limit that stays exhausted) is retried ever more slowly instead of in a tight loop.
const (
	restartMinDelay = 500 * time.Millisecond
	restartMaxDelay = 30 * time.Second
	// restartCalm is how long the store must write without a new error before the back-off
	// starts from restartMinDelay again.
	restartCalm = time.Minute
)

// embedded owns the in-process nats-server: it is the client's InProcessConnProvider (so
// the client reconnects to whichever server runs now) and restarts the server after a
// critical write error.
type embedded struct {
	opts    Options
	log     *slog.Logger
	timeout time.Duration

	mu  sync.Mutex // guards srv
	srv *server.Server

	failed  atomic.Bool   // a write error was seen and no restart has succeeded since
	trigger chan struct{} // buffered 1: a write error to recover from
	quit    chan struct{} // closed by stopRecovery
	done    chan struct{} // closed when the recovery goroutine has returned
	started bool          // startRecovery was called (only from Start's goroutine)
	stopped sync.Once
}

func startEmbedded(o Options, log *slog.Logger, timeout time.Duration) (*embedded, error) {
	e := &embedded{
		opts: o, log: log, timeout: timeout,
		trigger: make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	srv, err := e.run()
	if err != nil {
		return nil, err
	}
	e.srv = srv
	return e, nil
}

// run starts a server with e's options and logger.
func (e *embedded) run() (*server.Server, error) {
	sopts, err := serverOptions(e.opts)
	if err != nil {
		return nil, err
	}
	lg := slogLogger{log: e.log, onError: e.sawError}
	srv, err := runServer(sopts, lg, e.log.Enabled(context.Background(), slog.LevelDebug), e.timeout)
	if err != nil {
		return nil, err
	}
	// nats-server starts without JetStream when it cannot enable it (for example "storage
	// directory is not writable" while descriptors are still exhausted) and only logs it.
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("%w: embedded server started without JetStream", ErrNotReady)
	}
	return srv, nil
}

// InProcessConn implements nats.InProcessConnProvider for the server running now. During a
// restart there is none; the client's reconnect loop simply tries again.
func (e *embedded) InProcessConn() (net.Conn, error) {
	srv := e.current()
	if srv == nil {
		return nil, fmt.Errorf("%w: embedded server restarting", ErrNotReady)
	}
	return srv.InProcessConn()
}

func (e *embedded) current() *server.Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srv
}

// sawError is called with every error line of the server; it runs on the server's
// goroutines, so it only flags and signals.
func (e *embedded) sawError(msg string) {
	if !strings.Contains(msg, criticalWriteError) {
		return
	}
	e.failed.Store(true)
	select {
	case e.trigger <- struct{}{}:
	default:
	}
}

// writeFailed reports whether a write error is waiting for a successful restart.
func (e *embedded) writeFailed() bool { return e.failed.Load() }

func (e *embedded) startRecovery() {
	e.started = true
	go e.recoverLoop()
}

// stopRecovery stops the recovery goroutine and waits for it (a restart under way is
// finished first, so that stop sees a consistent server).
func (e *embedded) stopRecovery() {
	e.stopped.Do(func() { close(e.quit) })
	if e.started {
		<-e.done
	}
}

// stop shuts the current server down and waits until it has flushed and stopped.
func (e *embedded) stop() {
	e.stopRecovery()
	e.mu.Lock()
	srv := e.srv
	e.srv = nil
	e.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// recoverLoop restarts the server after each critical write error, with a growing delay
// when errors follow each other closely.
func (e *embedded) recoverLoop() {
	defer close(e.done)
	delay := restartMinDelay
	var last time.Time
	for {
		select {
		case <-e.quit:
			return
		case <-e.trigger:
		}
		if !last.IsZero() && time.Since(last) > restartCalm {
			delay = restartMinDelay
		}
		for {
			// Wait first: the condition that caused the error (descriptors exhausted by a
			// burst of connections) usually needs a moment to pass, and a restart into it
			// fails the same way.
			e.log.Error("store write error: restarting the embedded NATS server", "component", "nats", "in", delay)
			t := time.NewTimer(delay)
			select {
			case <-e.quit:
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(delay*2, restartMaxDelay)
			err := e.restart()
			last = time.Now()
			if err == nil {
				e.log.Warn("embedded NATS server restarted after a store write error; writes accepted again", "component", "nats")
				break
			}
			e.log.Error("restart of the embedded NATS server failed", "component", "nats", "err", err)
		}
	}
}

// restart replaces the running server with a new one on the same files.
func (e *embedded) restart() error {
	e.mu.Lock()
	old := e.srv
	e.srv = nil
	e.mu.Unlock()
	if old != nil {
		old.Shutdown()
		old.WaitForShutdown()
	}
	// What the old server reported (also during its shutdown) is dealt with by this
	// restart; from here on only the new server's errors count.
	select {
	case <-e.trigger:
	default:
	}
	e.failed.Store(false)
	srv, err := e.run()
	if err != nil {
		e.failed.Store(true)
		return err
	}
	e.mu.Lock()
	e.srv = srv
	e.mu.Unlock()
	return nil
}
