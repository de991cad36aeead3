package web

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/testwait"
)

// slowPost opens a connection and sends the headers of a POST with a 1000-byte body, then
// one body byte every interval until the connection fails. It returns the connection and
// a channel closed when the server has closed it (or answered).
func slowPost(t *testing.T, addr, path string, interval time.Duration) (net.Conn, <-chan struct{}) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n", path)
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_, _ = io.Copy(io.Discard, c) // returns once the server closes the connection
	}()
	go func() {
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-closed:
				return
			case <-tk.C:
				if _, err := c.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()
	return c, closed
}

// TestSlowBodyIsCutOff performs the slow-body attack on one connection: the body never
// completes within body-read-timeout, so the handler's read fails with a deadline error,
// the connection is closed, and the cut-off is counted.
func TestSlowBodyIsCutOff(t *testing.T) {
	readErr := make(chan error, 1)
	s := NewServer(ServerOptions{BodyReadTimeout: 300 * time.Millisecond})
	s.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		http.Error(w, "cannot read request", http.StatusBadRequest)
	})
	ts := httptest.NewServer(s)
	defer ts.Close()

	start := time.Now()
	_, closed := slowPost(t, ts.Listener.Addr().String(), "/upload", 50*time.Millisecond)
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("handler read error = %v, want a deadline error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("slow body was not cut off")
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("connection of the slow body stays open")
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("cut off after %s, before the deadline", d)
	}
	if n := s.metric(t, "chatgate_http_body_read_timeouts_total")(); n != 1 {
		t.Fatalf("chatgate_http_body_read_timeouts_total = %v, want 1", n)
	}
}

// TestHeldResponseOutlivesBodyDeadline is the long-poll case: the body is read at once and
// the response is held for several body deadlines; neither the request context nor the
// connection may be cut, and the next request on the same keep-alive connection works.
func TestHeldResponseOutlivesBodyDeadline(t *testing.T) {
	const deadline = 200 * time.Millisecond
	s := NewServer(ServerOptions{BodyReadTimeout: deadline})
	s.HandleFunc("POST /hold", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// Held like a /meta/connect: answered after 4 body deadlines, unless the request
		// is cancelled first (which would be the defect).
		select {
		case <-time.After(4 * deadline):
			_, _ = io.WriteString(w, "held")
		case <-r.Context().Done():
			// Nothing can be written to a cancelled request's client; the test sees the
			// missing answer.
		}
	})
	ts := httptest.NewServer(s)
	defer ts.Close()

	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := range 2 {
		start := time.Now()
		fmt.Fprintf(c, "POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]")
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "held" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
		if d := time.Since(start); d < 4*deadline {
			t.Fatalf("request %d answered after %s", i, d)
		}
	}
}

// TestHijackedConnectionHasNoDeadline: a websocket upgrade (GET, no body) hijacks the
// connection, which must not inherit a read deadline.
func TestHijackedConnectionHasNoDeadline(t *testing.T) {
	const deadline = 100 * time.Millisecond
	got := make(chan string, 1)
	s := NewServer(ServerOptions{BodyReadTimeout: deadline})
	s.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			got <- "hijack: " + err.Error()
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		line, err := brw.ReadString('\n')
		if err != nil {
			got <- "read: " + err.Error()
			return
		}
		got <- line
	})
	ts := httptest.NewServer(s)
	defer ts.Close()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "101") {
		t.Fatalf("upgrade: %q %v", line, err)
	}
	<-time.After(3 * deadline) // the hijacked connection stays idle past the body deadline
	fmt.Fprintf(c, "hello\n")
	select {
	case line := <-got:
		if line != "hello\n" {
			t.Fatalf("hijacked connection: %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no read on the hijacked connection")
	}
}

// TestLimitListenerCapsOpenConnections: at the cap a new connection is not served until
// one closes; the gauges report open connections and the cap.
func TestLimitListenerCapsOpenConnections(t *testing.T) {
	s := NewServer(ServerOptions{})
	s.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "x") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	capped := s.LimitListener(ln, 2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.Serve(capped) }()
	defer func() { _ = srv.Close(); wg.Wait() }()

	addr := ln.Addr().String()
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	open := s.metric(t, "chatgate_http_connections")
	testwait.Until(t, 5*time.Second, "2 connections open", func() bool { return open() == 2 })
	if v := s.metric(t, "chatgate_http_connections_max")(); v != 2 {
		t.Fatalf("connections_max = %v", v)
	}

	done := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/x")
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case code := <-done:
		t.Fatalf("third connection served (%d) while the cap was reached", code)
	case <-time.After(300 * time.Millisecond): // it must keep waiting at least this long
	}
	_ = held[0].Close()
	select {
	case code := <-done:
		if code != 200 {
			t.Fatalf("third request: %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("third connection not served after one closed")
	}
}

func TestConnectionCap(t *testing.T) {
	for _, tc := range []struct {
		setting int
		nofile  uint64
		want    int
	}{
		{100, 1 << 20, 100},
		{-1, 1024, 0},
		{0, 0, 0},
		{0, 1024, 768},
		{0, 256, 128},
		{0, 100, minAutoCap},
		{0, 1 << 20, 1<<20 - 1<<18},
	} {
		if got := ConnectionCap(tc.setting, tc.nofile); got != tc.want {
			t.Errorf("ConnectionCap(%d, %d) = %d, want %d", tc.setting, tc.nofile, got, tc.want)
		}
	}
}

// metric returns a reader of the gauge or counter named name (no labels) from s's registry.
func (s *Server) metric(t *testing.T, name string) func() float64 {
	t.Helper()
	return func() float64 {
		mfs, err := s.registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name || len(mf.GetMetric()) == 0 {
				continue
			}
			m := mf.GetMetric()[0]
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
}
