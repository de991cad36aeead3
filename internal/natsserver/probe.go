package natsserver

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// HealthBucket is the KV bucket the readiness check writes to (one key, history 1).
const HealthBucket = "CHATGATE_HEALTH"

// probeTTL is how long one write probe's result answers Ready: a readiness probe every
// second, or many load balancers asking at once, cost at most one store write per TTL.
const probeTTL = time.Second

// writeProbe checks that the store accepts a write and returns it: a put of a fresh value
// on HealthBucket and a get of it. A file store that stopped writing (disk full, too many
// open files) fails the put, which a read-only check (account info) would not notice. The
// bucket is created by the first check, with the connection's replica count, so that a
// cluster that cannot hold it shows up as "not ready" with the reason instead of failing
// Start.
type writeProbe struct {
	c *Conn

	mu      sync.Mutex // guards the fields below; never held while the store is called
	kv      jetstream.KeyValue
	at      time.Time // when err was measured
	err     error
	running chan struct{} // non-nil while a probe is under way; closed when it ends
	seq     uint64
}

// check returns the last result if it is younger than probeTTL, joins a probe under way,
// or runs one.
func (p *writeProbe) check(ctx context.Context) error {
	p.mu.Lock()
	if !p.at.IsZero() && time.Since(p.at) < probeTTL {
		err := p.err
		p.mu.Unlock()
		return err
	}
	if ch := p.running; ch != nil {
		p.mu.Unlock()
		select {
		case <-ch:
			p.mu.Lock()
			err := p.err
			p.mu.Unlock()
			return err
		case <-ctx.Done():
			return fmt.Errorf("%w: store write check: %w", ErrWriteFailed, ctx.Err())
		}
	}
	ch := make(chan struct{})
	p.running = ch
	p.seq++
	val := []byte(strconv.FormatUint(p.seq, 10) + " " + time.Now().UTC().Format(time.RFC3339Nano))
	kv := p.kv
	p.mu.Unlock()

	var err error
	if kv == nil {
		kv, err = p.c.KV(ctx, jetstream.KeyValueConfig{
			Bucket:      HealthBucket,
			Description: "chatgate readiness: the store accepts writes",
			History:     1,
		})
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrWriteFailed, err)
		}
	}
	if err == nil {
		err = write(ctx, kv, val)
	}

	p.mu.Lock()
	if err == nil {
		p.kv = kv
	}
	p.at, p.err, p.running = time.Now(), err, nil
	p.mu.Unlock()
	close(ch)
	return err
}

func write(ctx context.Context, kv jetstream.KeyValue, val []byte) error {
	const key = "probe"
	if _, err := kv.Put(ctx, key, val); err != nil {
		return fmt.Errorf("%w: put: %w", ErrWriteFailed, err)
	}
	// Read it back: a store that acknowledges but cannot serve what it wrote is not ready
	// either. (In a cluster another node may have written a newer value in between; any
	// answer is fine.)
	if _, err := kv.Get(ctx, key); err != nil {
		return fmt.Errorf("%w: get: %w", ErrWriteFailed, err)
	}
	return nil
}

// Ready is the readiness check behind /readyz: the connection is up, JetStream answers,
// the embedded store has not reported a write error it has yet to recover from, and a
// write (cached for probeTTL) succeeds.
func (c *Conn) Ready(ctx context.Context) error {
	if c.embedded != nil && c.embedded.writeFailed() {
		return fmt.Errorf("%w: a write error was reported; the embedded server is restarting", ErrWriteFailed)
	}
	if err := c.Ping(ctx); err != nil {
		return err
	}
	return c.probe.check(ctx)
}
