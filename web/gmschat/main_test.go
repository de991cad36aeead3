package gmschat

import (
	"testing"

	"go.uber.org/goleak"
)

// The ignored function is a nats.go v1.55 race, not ours: ObjectStore.Put (a file upload)
// publishes through a temporary JetStream context whose deferred cleanupReplySub sets
// publisher.connStatusCh to nil, sometimes before the resetPendingAcksOnReconnect goroutine
// started by the first PublishAsync has read it; that goroutine then waits on a nil channel
// forever (jetstream/object.go:693, jetstream/jetstream.go:1326, publish.go:566).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"))
}
