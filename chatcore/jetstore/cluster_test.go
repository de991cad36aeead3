package jetstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/nats-io/nats-server/v2/server"
)

// startCluster runs a 3-node JetStream cluster in this process, listening on loopback, and
// returns the client URLs. The servers are shut down (and waited for) in t.Cleanup.
func startCluster(t *testing.T) string {
	t.Helper()
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	var urls []string
	for i := range ports {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			Cluster:    server.ClusterOpts{Name: "chatgate-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("server %d not ready", i+1)
		}
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ",")
}

// On an R3 stream the server reports compare-and-set failures with a different error code
// (10164) than on R1 (10071); two nodes racing on one chat must still see exactly one
// winner and ErrConflict for the other, and the transcript must read back gapless from
// every node.
func TestStoreClusterR3Conflicts(t *testing.T) {
	urls := startCluster(t)
	ctx := context.Background()
	var nodes []*Store
	for i := range 2 {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		c, err := natsserver.Start(sctx, natsserver.Options{ExternalURL: urls, StartTimeout: 20 * time.Second})
		cancel()
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		t.Cleanup(func() { _ = c.Close(ctx) })
		if c.Replicas() != 3 {
			t.Fatalf("replicas %d", c.Replicas())
		}
		// Right after start the cluster may still be electing a meta leader: retry Open
		// until it succeeds or the deadline passes.
		deadline := time.After(20 * time.Second)
		tick := time.NewTicker(200 * time.Millisecond)
		for s := (*Store)(nil); s == nil; {
			if s, err = Open(ctx, c, Options{}); err == nil {
				nodes = append(nodes, s)
				break
			}
			select {
			case <-deadline:
				t.Fatalf("node %d: Open: %v", i, err)
			case <-tick.C:
			}
		}
		tick.Stop()
	}

	for round := int64(0); round < 10; round++ {
		errs := make([]error, len(nodes))
		var wg sync.WaitGroup
		for n, s := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[n] = s.AppendJSON(ctx, "r3chat", round, [][]byte{ev(round+1, fmt.Sprint("node", n))})
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, ErrConflict):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners (%v)", round, wins, errs)
		}
	}
	// A node with a stale cache is refused by the server itself (the replicated code path).
	stale := nodes[0]
	stale.tr.remember("r3chat", position{last: 10, seq: 1, origin: 1})
	if err := stale.AppendJSON(ctx, "r3chat", 10, [][]byte{ev(11, "stale")}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale-cache append on R3: %v", err)
	}
	rev, err := nodes[0].CreateChat(ctx, "r3chat", []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].SaveChat(ctx, "r3chat", []byte(`{"a":1}`), rev); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[0].SaveChat(ctx, "r3chat", []byte(`{"a":2}`), rev); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale state save on R3: %v", err)
	}
	for _, s := range nodes {
		evs, err := pageAll(ctx, s, "r3chat", 1)
		if err != nil || len(evs) != 10 || evs[9].Index != 10 {
			t.Fatalf("read back: %d events, %v", len(evs), err)
		}
	}
}
