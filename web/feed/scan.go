package feed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrStopScan, returned by a Scan callback, ends the scan early without an error.
var ErrStopScan = errors.New("feed: scan stopped")

// scanBatch is how many records a Scan asks the store for at once (one pull request per
// batch instead of one per record; a record is well under 1 MiB, so this bounds the
// buffered bytes too).
const scanBatch = 256

// scanIdle is how long Scan waits for the next record before it takes the range as done:
// the records it expects (up to the newest one at the start) are already stored, so a wait
// this long means they were discarded by the stream's limits meanwhile.
const scanIdle = 2 * time.Second

// Scan calls fn, in feed order, for each record stored in [from, to) (by Stored) that
// exists when the scan starts; records stored later are not read. fn returning ErrStopScan
// ends the scan with a nil error; any other error ends it with that error. Export and the
// summaries read through Scan, so they see the same records.
func (f *Feed) Scan(ctx context.Context, from, to time.Time, fn func(Record) error) error {
	last, err := f.LastSeq(ctx)
	if err != nil || last == 0 {
		return err
	}
	// A range after the newest record has nothing to wait for.
	if m, err := f.stream.GetMsg(ctx, last); err == nil && m.Time.Before(from) {
		return nil
	}
	c, err := f.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &from,
	})
	if err != nil {
		return fmt.Errorf("feed scan: %w", err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(scanBatch))
	if err != nil {
		return fmt.Errorf("feed scan: %w", err)
	}
	defer it.Stop()
	for {
		wctx, cancel := context.WithTimeout(ctx, scanIdle)
		m, err := it.Next(jetstream.NextContext(wctx))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
				return nil // nothing stored at or after from, or the rest aged out
			}
			return fmt.Errorf("feed scan: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("feed scan: %w", err)
		}
		if !md.Timestamp.Before(to) {
			return nil
		}
		rec, err := decodeRecord(m.Data(), md.Sequence.Stream, md.Timestamp)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			if errors.Is(err, ErrStopScan) {
				return nil
			}
			return err
		}
		if md.Sequence.Stream >= last {
			return nil // the newest record as of the start
		}
	}
}
