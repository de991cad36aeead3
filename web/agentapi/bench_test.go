package agentapi

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/jetstore"
	"github.com/chatgate/chatgate/internal/natsserver"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// BenchmarkPresenceMemory: heap per logged-in, connected agent on a node (its presence
// entry and one Bayeux session), without the router's share (chatcore/routing measures its
// own). Reported as bytes/agent for 1,000 agents.
func BenchmarkPresenceMemory(b *testing.B) {
	ctx := context.Background()
	conn, err := natsserver.Start(ctx, natsserver.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	store, err := jetstore.Open(ctx, conn, jetstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	core, err := chatcore.New(ctx, chatcore.Config{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	defer core.Close()
	as, err := accounts.Open(ctx, accounts.Config{KV: conn})
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(ctx, Config{Chats: core, Accounts: as, KV: conn})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	const n = 1000
	round := 0
	for b.Loop() {
		round++
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			acct := accounts.Account{ID: fmt.Sprintf("agent-%d-%d", round, i), DisplayName: "Agent", Role: accounts.RoleAgent, Queues: []string{"support"}, Capacity: 3}
			if _, err := a.setState(ctx, acct, StateReady, ""); err != nil {
				b.Fatal(err)
			}
			a.attachSession(acct, fmt.Sprintf("session-%d-%d", round, i))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/n, "bytes/agent")
		a.mu.Lock()
		clear(a.agents)
		clear(a.bySession)
		a.mu.Unlock()
	}
}
