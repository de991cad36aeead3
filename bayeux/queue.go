package bayeux

import "sync/atomic"

// queueBounds is what bounds messages waiting for a client, in a session's queue (plus, with
// ack, its unacknowledged messages) or in a websocket's unsent frame list: a count and a byte
// size per queue, and one byte budget for every queue of the server together. A message's
// size is the length of its encoding, known once it is encoded; a broadcast shared by many
// queues counts in each (conservative: the budget bounds what could be held, not what is).
type queueBounds struct {
	maxCount int
	maxBytes int64 // per queue; ≤ 0: no byte bound
	maxTotal int64 // all queues; ≤ 0: no total bound
	total    atomic.Int64
}

// add accounts n bytes entering a queue.
func (b *queueBounds) add(n int) { b.total.Add(int64(n)) }

// release accounts n bytes leaving a queue (taken for writing, acknowledged, dropped).
func (b *queueBounds) release(n int) {
	if n != 0 {
		b.total.Add(-int64(n))
	}
}

// over reports whether a queue of count messages and size bytes must drop its oldest
// message. The newest message is kept even when it alone exceeds the per-queue byte bound (a
// queue can always make progress); the server-wide budget is a hard bound.
func (b *queueBounds) over(count int, size int64) bool {
	if count == 0 {
		return false
	}
	if count > b.maxCount || (b.maxBytes > 0 && size > b.maxBytes && count > 1) {
		return true
	}
	return b.maxTotal > 0 && b.total.Load() > b.maxTotal
}

func sizeOf(msgs [][]byte) (n int) {
	for _, m := range msgs {
		n += len(m)
	}
	return n
}
