package bayeux

import "context"

// Broker carries broadcast messages between the chatgate nodes that serve the same Bayeux
// channels. Publish sends an encoded delivery (a JSON object with channel, data and ext) to
// every node, this one included; each node hands what it receives to its local subscribers.
//
// The in-memory broker (NewMemoryBroker) is the single-node implementation. A cluster
// implementation (NATS core subjects) can plug in here without the server changing: the
// broker never sees sessions, only channels and encoded messages.
type Broker interface {
	// Publish sends msg, published on channel, to every node. It may return before remote
	// nodes received it (at-most-once is fine for broadcasts).
	Publish(ctx context.Context, channel string, msg []byte) error
	// Subscribe registers the function that receives every published message on this node.
	// It is called once, by NewServer, before any Publish.
	Subscribe(fn func(channel string, msg []byte)) error
	// Close stops delivering; called by Server.Shutdown.
	Close() error
}
