package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cometCustomer is a CometD widget: one Bayeux session (websocket or long-polling, the
// existing session types) subscribed to /service/chatV2/{svc}; operations are publishes on that
// channel and every answer and event is pushed back to the session on the same channel.
// It is also the session's sink: pushes go to the customer's inbox.
type cometCustomer struct {
	w       *gmsWorker
	s       session
	global  int
	channel string
	inbox   chan gmsPush

	secureKey string
	seen      int64 // highest transcript index pushed so far
}

// gmsPush is one push on the service channel, or a refused publish (refused = true).
type gmsPush struct {
	r       gmsResponse
	at      time.Time
	refused bool
}

// inboxSize bounds the pushes waiting for the customer: with one operation in flight at most
// two are outstanding (answer and event); more are counted and dropped.
const inboxSize = 64

func newCometCustomer(w *gmsWorker, global int) *cometCustomer {
	c := &cometCustomer{w: w, global: global, channel: w.svcChannel, inbox: make(chan gmsPush, inboxSize)}
	ip := w.sourceIP(global)
	if w.cfg.Transport == "websocket" {
		u := strings.Replace(strings.Replace(w.cfg.URL, "https://", "wss://", 1), "http://", "ws://", 1)
		c.s = newWSSession(u, w.base.dialer[ip], c, false)
	} else {
		c.s = newLPSession(w.cfg.URL, w.base.hc[ip], c, false)
	}
	return c
}

// sink implementation (called from the session's reading goroutine)

func (c *cometCustomer) deliver(channel string, data json.RawMessage, at time.Time) {
	if channel != c.channel {
		c.w.base.event("push-on-other-channel")
		return
	}
	var p gmsPush
	p.at = at
	if err := json.Unmarshal(data, &p.r); err != nil {
		c.w.base.event("push-not-a-response")
		return
	}
	select {
	case c.inbox <- p:
	default:
		c.w.base.event("push-inbox-overflow")
	}
}

func (c *cometCustomer) publishAck(ok bool) {
	if ok {
		return
	}
	c.w.base.event("publish-refused")
	select {
	case c.inbox <- gmsPush{refused: true, at: time.Now()}:
	default:
	}
}

func (c *cometCustomer) event(name string) { c.w.base.event(name) }

// open handshakes, subscribes to the service channel, starts the connect loop.
func (c *cometCustomer) open(ctx context.Context) error {
	if err := c.s.open(ctx, []string{c.channel}); err != nil {
		return err
	}
	c.w.runWG.Go(func() { c.s.run(c.w.runCtx) })
	return nil
}

func (c *cometCustomer) close(ctx context.Context) { c.s.close(ctx) }
func (c *cometCustomer) lastIndex() int64          { return c.seen }

// checkEvents counts transcript events pushed twice or out of order: the adapter pushes every
// event once, in index order.
func (c *cometCustomer) checkEvents(r *gmsResponse) {
	for _, e := range r.Messages {
		switch {
		case e.Index <= c.seen:
			c.w.base.event("event-pushed-twice-or-backwards")
		case e.Index != c.seen+1:
			c.w.base.event("event-index-gap")
		}
		c.seen = max(c.seen, e.Index)
	}
}

// await reads pushes until done says the operation is acknowledged or a failure arrives.
func (c *cometCustomer) await(ctx context.Context, what string, done func(p *gmsPush) bool) (time.Time, error) {
	for {
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s: no acknowledgement: %w", what, ctx.Err())
		case p := <-c.inbox:
			if p.refused {
				return time.Time{}, fmt.Errorf("%s: publish refused: %w", what, errUnsuccessful)
			}
			if p.r.StatusCode != 0 {
				return time.Time{}, fmt.Errorf("%s: %w", what, &statusError{Status: p.r.StatusCode, Code: p.r.errCode()})
			}
			c.checkEvents(&p.r)
			if done(&p) {
				return p.at, nil
			}
		}
	}
}

func (c *cometCustomer) publish(ctx context.Context, data map[string]any) (time.Time, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return time.Time{}, fmt.Errorf("marshal: %w", err)
	}
	t0 := time.Now()
	if err := c.s.publish(ctx, c.channel, b); err != nil {
		return t0, fmt.Errorf("publish: %w", err)
	}
	return t0, nil
}

func (c *cometCustomer) create(ctx context.Context) (time.Duration, error) {
	data := map[string]any{"operation": "requestChat", "nickname": "load-" + strconv.Itoa(c.global), "subject": "chatgate-load"}
	if c.w.cfg.Async {
		data["userData"] = map[string]string{"GCTI_Chat_AsyncMode": "true"}
	}
	t0, err := c.publish(ctx, data)
	if err != nil {
		return 0, err
	}
	at, err := c.await(ctx, "requestChat", func(p *gmsPush) bool {
		if p.r.ChatID == "" || p.r.SecureKey == "" {
			return false
		}
		c.secureKey = p.r.SecureKey
		return true
	})
	if err != nil {
		return 0, err
	}
	return at.Sub(t0), nil
}

// send publishes sendMessage; the acknowledgement is the pushed Message event with its text
// (the answer push itself carries no events).
func (c *cometCustomer) send(ctx context.Context, k int) (time.Duration, error) {
	text := c.w.messageText(c.global, k)
	t0, err := c.publish(ctx, map[string]any{"operation": "sendMessage", "secureKey": c.secureKey, "message": text})
	if err != nil {
		return 0, err
	}
	at, err := c.await(ctx, "sendMessage", func(p *gmsPush) bool { return p.r.hasMessage(text) })
	if err != nil {
		return 0, err
	}
	return at.Sub(t0), nil
}
