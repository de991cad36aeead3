package bayeux

import (
	"context"
	"errors"
	"sync"
)

// MemoryBroker is the single-node Broker: Publish calls the subscribed function directly,
// on the publisher's goroutine, so a publish reply is written after the message reached every
// local session queue.
type MemoryBroker struct {
	mu     sync.RWMutex
	fn     func(channel string, msg []byte)
	closed bool
}

// NewMemoryBroker returns an in-process broker.
func NewMemoryBroker() *MemoryBroker { return &MemoryBroker{} }

// ErrBrokerClosed is returned by Publish after Close.
var ErrBrokerClosed = errors.New("bayeux: broker closed")

// Publish implements Broker.
func (b *MemoryBroker) Publish(_ context.Context, channel string, msg []byte) error {
	b.mu.RLock()
	fn, closed := b.fn, b.closed
	b.mu.RUnlock()
	if closed {
		return ErrBrokerClosed
	}
	if fn != nil {
		fn(channel, msg)
	}
	return nil
}

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(fn func(channel string, msg []byte)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fn != nil {
		return errors.New("bayeux: memory broker already has a subscriber")
	}
	b.fn = fn
	return nil
}

// Close implements Broker.
func (b *MemoryBroker) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}
