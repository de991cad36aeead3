package chatcore

import (
	"context"
	"time"
)

// Timer rules. Every deadline is a pure function of the chat's state (last activity, idle
// phase and when it began), the customer's last protocol request and the service's current
// options, so an option change applies by recomputing (OptionsChanged), and a restart
// re-arms from the stored state and fires at once what fell due.

// timerKind names what a deadline does when it falls due.
type timerKind int

const (
	tNone       timerKind = iota
	tIdleAlert            // IDLE_CONTROL_ALERT (async or regular)
	tIdleAlert2           // second regular alert
	tIdleClose            // IDLE_CONTROL_CLOSE, chat closed (reason 7)
	tFlexRemove           // customer removed for protocol inactivity (reason 3)
	tFlexCheck            // flex-push-timeout: ask the liveness checker
)

// idleDeadline is the chat's next session-inactivity deadline.
func idleDeadline(st *chatState, o *Options) (time.Time, timerKind) {
	if st.Ended {
		return time.Time{}, tNone
	}
	phaseAt := time.UnixMilli(st.PhaseAt)
	if st.Async {
		s := o.Settings
		if st.IdlePhase == 0 {
			return time.UnixMilli(st.LastActivity).Add(s.AsyncIdleAlert), tIdleAlert
		}
		return phaseAt.Add(s.AsyncIdleClose), tIdleClose
	}
	ic := o.InactivityControl
	if !ic.Enabled {
		return time.Time{}, tNone
	}
	switch {
	case st.IdlePhase == 0:
		return time.UnixMilli(st.LastActivity).Add(ic.TimeoutAlert), tIdleAlert
	case st.IdlePhase == 1 && ic.TimeoutAlert2 > 0:
		return phaseAt.Add(ic.TimeoutAlert2), tIdleAlert2
	default:
		return phaseAt.Add(ic.TimeoutClose), tIdleClose
	}
}

// flexDeadline is the customer's next protocol-inactivity deadline.
func (c *chat) flexDeadline(o *Options) (time.Time, timerKind) {
	st := &c.st
	if st.Ended || c.checking || !st.customerPresent() {
		return time.Time{}, tNone
	}
	if !st.pushLiveness(o) {
		return c.lastReq.Add(o.Settings.FlexDisconnectTimeout), tFlexRemove
	}
	if c.flexStage == 0 {
		return c.lastReq.Add(o.Settings.FlexPushTimeout), tFlexCheck
	}
	return c.flexStageAt.Add(o.Settings.FlexPushTimeout), tFlexRemove
}

// next is the chat's earliest deadline.
func (c *chat) next(o *Options) (time.Time, timerKind) {
	at, k := idleDeadline(&c.st, o)
	fat, fk := c.flexDeadline(o)
	if fk != tNone && (k == tNone || fat.Before(at)) {
		return fat, fk
	}
	return at, k
}

// reschedule re-arms the chat's timer from its state. c.mu held.
func (co *Core) reschedule(c *chat) {
	o := co.opts.Options(c.st.Service)
	at, k := c.next(&o)
	co.tmu.Lock()
	defer co.tmu.Unlock()
	if k == tNone || c.gone {
		co.q.Remove(c.id)
		return
	}
	co.q.Set(c.id, at)
	if co.armed.IsZero() || at.Before(co.armed) {
		select {
		case co.wake <- struct{}{}:
		default:
		}
	}
}

// rescheduleLocked is reschedule during load (no wake-up needed: the loop has not started).
func (co *Core) rescheduleLocked(c *chat) {
	o := co.opts.Options(c.st.Service)
	if at, k := c.next(&o); k != tNone {
		co.q.Set(c.id, at)
	}
}

func (co *Core) unschedule(id string) {
	co.tmu.Lock()
	co.q.Remove(id)
	co.tmu.Unlock()
}

// OptionsChanged re-evaluates every chat against the current options (call it after the
// OptionSource starts returning new values): its deadlines are re-armed, and an async chat's
// GCTI_Chat_AsyncCheckAt, once set, is recomputed (asyncCheckAt) and, when it moved, stored in
// the chat's state and reported to the listeners as a property change, like any other
// change of it. Chats are handled one at a time under their own lock; listeners are called
// after it is released. A chat whose new CheckAt cannot be stored keeps the old one (logged)
// and is re-read before its next operation; its timers follow the new options regardless.
func (co *Core) OptionsChanged() {
	co.mu.RLock()
	cs := make([]*chat, 0, len(co.chats))
	for _, c := range co.chats {
		cs = append(cs, c)
	}
	co.mu.RUnlock()
	for _, c := range cs {
		c.mu.Lock()
		co.optionsChanged(c)
		c.mu.Unlock()
		co.deliver(c)
	}
}

// optionsChanged applies new options to one chat. c.mu held.
func (co *Core) optionsChanged(c *chat) {
	ctx, cancel := context.WithTimeout(co.ctx, co.stTO)
	defer cancel()
	// Twice: a first attempt that lost a compare-and-set re-reads the chat and tries again.
	for range 2 {
		if err := co.sync(ctx, c); err != nil {
			if !c.gone {
				co.log.Warn("chatcore: options changed: chat not readable", "chat", c.id, "err", err)
				co.reschedule(c)
			}
			return
		}
		o := co.opts.Options(c.st.Service)
		st := &c.st
		if !st.Async || st.Ended || st.CheckAt == 0 {
			break
		}
		at := asyncCheckAt(st, &o)
		if at == st.CheckAt {
			break
		}
		t := &txn{co: co, c: c, st: st, now: co.clock.Now(), opts: o}
		t.change(func(st *chatState) { st.CheckAt = at })
		err := co.commit(ctx, c, t) // queues the property change and re-arms the timers
		if err == nil {
			return
		}
		co.log.Warn("chatcore: options changed: new GCTI_Chat_AsyncCheckAt not stored", "chat", c.id, "err", err)
	}
	co.reschedule(c)
}

// timerLoop waits for the earliest deadline and hands due chats to the workers.
func (co *Core) timerLoop() {
	defer co.wg.Done()
	for {
		co.tmu.Lock()
		next, ok := co.q.Next()
		if ok {
			co.armed = next
		} else {
			co.armed = time.Time{}
		}
		co.tmu.Unlock()
		var tc <-chan time.Time
		var tm Timer
		if ok {
			tm = co.clock.Timer(next)
			tc = tm.C()
		}
		select {
		case <-co.ctx.Done():
			if tm != nil {
				tm.Stop()
			}
			return
		case <-co.wake:
			if tm != nil {
				tm.Stop()
			}
		case <-tc:
			now := co.clock.Now()
			co.tmu.Lock()
			due := co.q.PopDue(now, 0)
			co.inflight += len(due)
			co.tmu.Unlock()
			co.poke()
			for _, id := range due {
				select {
				case co.work <- id:
				case <-co.ctx.Done():
					return
				}
			}
		}
	}
}

func (co *Core) worker() {
	defer co.wg.Done()
	for {
		select {
		case <-co.ctx.Done():
			return
		case id := <-co.work:
			co.fire(id)
		}
	}
}

// fire runs what is due for a chat, then re-arms it.
func (co *Core) fire(id string) {
	defer co.doneInflight()
	c, err := co.get(id)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(co.ctx, co.stTO)
	defer cancel()
	c.mu.Lock()
	check := false
	for range 8 { // several rules may be due at once (after downtime)
		if err := co.sync(ctx, c); err != nil {
			co.log.Warn("chatcore: timer: chat reload failed", "chat", id, "err", err)
			co.retryLater(c)
			break
		}
		o := co.opts.Options(c.st.Service)
		at, k := c.next(&o)
		now := co.clock.Now()
		if k == tNone || at.After(now) {
			break
		}
		if k == tFlexCheck {
			c.checking, check, c.checkStart = true, true, now
			break
		}
		t := &txn{co: co, c: c, st: &c.st, now: now, opts: o}
		co.ruleEvents(t, k)
		if err := co.commit(ctx, c, t); err != nil {
			co.log.Warn("chatcore: timer action failed", "chat", id, "err", err)
			co.retryLater(c)
			break
		}
	}
	co.reschedule(c)
	user := c.st.Customer
	c.mu.Unlock()
	co.deliver(c)
	co.release(c) // an idle close or flex removal ended it
	if check {
		co.tmu.Lock()
		co.inflight++
		co.tmu.Unlock()
		co.wg.Add(1)
		go co.liveness(c, user)
	}
}

// retryLater re-arms a chat whose timer action failed a little later. c.mu held.
func (co *Core) retryLater(c *chat) {
	if c.gone {
		return
	}
	co.tmu.Lock()
	co.q.Set(c.id, co.clock.Now().Add(5*time.Second))
	co.tmu.Unlock()
}

// ruleEvents fills t with what a due rule does.
func (co *Core) ruleEvents(t *txn, k timerKind) {
	ic := t.opts.InactivityControl
	idle := func(kind, text string) {
		ev := Event{Type: EventNotice, From: systemFrom, Text: text, UserData: map[string]string{KeyIdleControl: kind}}
		if text != "" {
			t.events = append(t.events, ev)
			return
		}
		// An empty message text sends nothing; the phase still advances.
		ev.UTCTime = t.now.UnixMilli()
		o := t.opts
		t.change(func(st *chatState) { apply(st, &ev, &o) })
	}
	switch k {
	case tIdleAlert:
		idle("alert", ic.MessageAlert)
		// The alert announces GCTI_Chat_AsyncCheckAt (alert + async-idle-close + margin). A
		// restart would rebuild it from the transcript with the options of that time, so a
		// raised close would move it silently; stored now, it stays what listeners were told.
		t.save = true
	case tIdleAlert2:
		idle("alert2", ic.MessageAlert2)
	case tIdleClose:
		if ic.MessageClose != "" {
			t.emit(EventNotice, systemFrom, ic.MessageClose, "", map[string]string{KeyIdleControl: "close"})
		}
		endEvents(t, "", QuitSessionInactivity, QuitSessionInactivity)
	case tFlexRemove:
		endEvents(t, t.st.Customer, QuitProtocolInactivity, QuitRemovedByServer)
	}
}

// liveness asks the checker about a push-enabled customer whose flex-push-timeout expired:
// alive counts as a protocol request; otherwise the timer is re-armed once and the customer
// is removed if nothing arrives by then.
func (co *Core) liveness(c *chat, userID string) {
	defer co.wg.Done()
	defer co.doneInflight()
	alive := false
	if co.live != nil {
		ctx, cancel := context.WithTimeout(co.ctx, co.stTO)
		var err error
		alive, err = co.live.CheckAlive(ctx, c.id, userID)
		cancel()
		if err != nil {
			co.log.Info("chatcore: liveness check failed", "chat", c.id, "err", err)
			alive = false
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checking = false
	now := co.clock.Now()
	switch {
	case c.lastReq.After(c.checkStart) || c.flexStage != 0 && c.flexStageAt.After(c.checkStart):
		// a request arrived while the check ran: it decides
	case alive:
		c.lastReq, c.flexStage = now, 0
	case c.flexStage == 0:
		c.flexStage, c.flexStageAt = 1, now
	}
	co.reschedule(c)
}

func (co *Core) doneInflight() {
	co.tmu.Lock()
	co.inflight--
	co.tmu.Unlock()
	co.poke()
}

func (co *Core) poke() {
	select {
	case co.tick <- struct{}{}:
	default:
	}
}

// settled reports whether nothing is due at the clock's current time and no timer action
// or liveness check is running (tests use it to wait for the timers to catch up).
func (co *Core) settled() bool {
	co.tmu.Lock()
	defer co.tmu.Unlock()
	next, ok := co.q.Next()
	return co.inflight == 0 && (!ok || next.After(co.clock.Now()))
}
