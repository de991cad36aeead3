package web

import (
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"
)

// Automatic connection cap: what stays free of the process's open-file limit for the store
// (every JetStream stream keeps block files open and reopens its state file on every sync),
// outgoing connections (push providers, an external NATS) and the runtime. A quarter of the
// limit, at least minReserve.
const (
	minReserve    = 128
	minAutoCap    = 16
	reserveFactor = 4 // reserve = limit / reserveFactor
)

// ConnectionCap resolves the max-connections setting: a positive setting is the cap; 0
// derives it from the open-file limit nofile (the soft RLIMIT_NOFILE, see OpenFileLimit)
// as nofile minus the reserve; a negative setting means no cap (0 returned). With 0 and an
// unknown limit (nofile 0) there is no cap either.
func ConnectionCap(setting int, nofile uint64) int {
	switch {
	case setting > 0:
		return setting
	case setting < 0 || nofile == 0:
		return 0
	}
	reserve := max(nofile/reserveFactor, minReserve)
	if nofile <= reserve+minAutoCap {
		return minAutoCap
	}
	return int(min(nofile-reserve, uint64(^uint(0)>>1)))
}

// LimitListener caps the connections open at once on ln at n (0: no cap) and exports
// chatgate_http_connections (open now) and chatgate_http_connections_max on s's registry.
// At the cap, Accept waits until a connection closes: new clients queue in the kernel's
// accept backlog instead of taking a descriptor the store needs. The cap counts every
// accepted connection until it is closed, including held long-polls and hijacked
// websockets.
func (s *Server) LimitListener(ln net.Listener, n int) net.Listener {
	open := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: MetricsNamespace, Subsystem: "http", Name: "connections",
		Help: "HTTP connections open now (including held long-polls and websockets).",
	})
	capGauge := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: MetricsNamespace, Subsystem: "http", Name: "connections_max",
		Help: "Cap on open HTTP connections (max-connections; 0 = none). At the cap new connections wait in the accept queue.",
	})
	capGauge.Set(float64(n))
	s.registry.MustRegister(open, capGauge)
	if n > 0 {
		ln = netutil.LimitListener(ln, n)
	}
	return &countingListener{Listener: ln, open: open}
}

// countingListener keeps the open-connections gauge.
type countingListener struct {
	net.Listener
	open prometheus.Gauge
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Inc()
	return &countedConn{Conn: c, open: l.open}, nil
}

type countedConn struct {
	net.Conn
	open prometheus.Gauge
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.open.Dec)
	return err
}
