package chatcore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// RestoreBy says who starts a session restoration (async-chat.md §5).
type RestoreBy string

// Who may restore a session, matched against session-restore-extend-by.
const (
	// RestoreByAgent is the agent desktop (session-restore-extend-by agent or both).
	RestoreByAgent RestoreBy = "agent"
	// RestoreByWorkflow is the workflow through an ESP request, or chatgate's workflow API
	// (session-restore-extend-by esp or both).
	RestoreByWorkflow RestoreBy = "esp"
)

// allowedBy reports whether session-restore-extend-by lets by restore a session.
func allowedBy(extendBy string, by RestoreBy) bool {
	switch extendBy {
	case "both":
		return true
	case "agent":
		return by == RestoreByAgent
	case "esp":
		return by == RestoreByWorkflow
	}
	return false // none
}

// Restore restores an async chat's session on behalf of the agent desktop or the workflow
// (the ESP GetSessionInfo InduceRestore=true of the original), when the service's
// session-restore-extend-by allows it (ErrRestoreNotAllowed otherwise). Chatgate's chats are
// durable, so there is nothing to rebuild; a restoration extends the session:
//
//   - the chat is marked restored (stored in its state document, so it survives restarts;
//     ChatView.Restored, RestoredBy, RestoredAt);
//   - the idle timers re-arm from now, as after activity: a pending async-idle-close (an
//     alerted chat) is cancelled and async-idle-alert runs again from the restoration;
//   - GCTI_Chat_AsyncCheckAt moves to when the chat would now be closed if nothing happens
//     (now + async-idle-alert + async-idle-close + async-check-at-margin), so a restored chat
//     leaves the list of chats due for a check, and comes back to it if it gets stuck again;
//   - GCTI_Chat_AsyncStatus: -1 (processing) when an agent is present or the agent desktop
//     restored it; otherwise (the workflow, no agent) 1 and 2 stay (the customer still waits
//     to be routed) and any other value becomes -2 (dormant: back with the workflow, waiting
//     for the customer, whose next activity sets 2);
//   - the customer's protocol-inactivity rule starts from the restoration, and from then on
//     uses flex-push-timeout only with session-restore-push-send=true, otherwise
//     flex-disconnect-timeout (a push-enabled customer is then treated as a web client).
//
// No transcript event is committed (GMS has none for it): listeners see the property change
// (GCTI_Chat_AsyncCheckAt, and GCTI_Chat_AsyncStatus when it changes) with the restored view.
// Errors: ErrChatNotFound, ErrChatEnded (an ended chat cannot be restored), ErrInvalid (not an
// async chat, or an unknown by), ErrRestoreNotAllowed, and the store's errors.
func (co *Core) Restore(ctx context.Context, chatID string, by RestoreBy) (Result, error) {
	return co.restore(ctx, chatID, by, false)
}

// RestoreAndRoute is Restore by the workflow (RestoreByWorkflow) that also hands the chat
// back to routing: when no agent is present, GCTI_Chat_AsyncStatus becomes positive (1 and
// 2 stay, anything else becomes 5, placed into a queue by the workflow), which is what a
// router waits for (async-chat.md §4: any positive value means "route it"). With an agent
// present it is -1 as after Restore: the chat is being processed. Same errors as Restore.
func (co *Core) RestoreAndRoute(ctx context.Context, chatID string) (Result, error) {
	return co.restore(ctx, chatID, RestoreByWorkflow, true)
}

func (co *Core) restore(ctx context.Context, chatID string, by RestoreBy, route bool) (Result, error) {
	if by != RestoreByAgent && by != RestoreByWorkflow {
		return Result{}, fmt.Errorf("restore by %.32q: %w", by, ErrInvalid)
	}
	res, err := co.exec(ctx, chatID, func(t *txn) error {
		st := t.st
		if st.Ended {
			return fmt.Errorf("restore chat %s: %w", chatID, ErrChatEnded)
		}
		if !st.Async {
			return fmt.Errorf("restore chat %s: not an async chat: %w", chatID, ErrInvalid)
		}
		if extend := t.opts.Settings.SessionRestoreExtendBy; !allowedBy(extend, by) {
			return fmt.Errorf("restore chat %s by %s (session-restore-extend-by %s): %w", chatID, by, extend, ErrRestoreNotAllowed)
		}
		now := t.now
		o := t.opts
		status := restoredStatus(st, by)
		if route && status == AsyncOnHold {
			status = AsyncQueued
		}
		t.change(func(st *chatState) {
			st.Restored, st.RestoredAt, st.RestoredBy = true, now.UnixMilli(), string(by)
			st.LastActivity, st.IdlePhase, st.PhaseAt = now.UnixMilli(), 0, 0
			st.CheckAt, st.AsyncStatus = asyncCheckAt(st, &o), status
		})
		// The restoration starts the customer's protocol-inactivity clock (runtime only).
		t.touch = st.Customer
		return nil
	})
	if err == nil {
		co.log.Info("chatcore: session restored", "chat", chatID, "by", string(by))
	}
	return res, err
}

// restoredStatus is GCTI_Chat_AsyncStatus after a restoration (see Restore).
func restoredStatus(st *chatState, by RestoreBy) int {
	if by == RestoreByAgent || st.agentPresent() {
		return AsyncProcessing
	}
	switch st.AsyncStatus {
	case AsyncCreated, AsyncCustomer:
		return st.AsyncStatus
	}
	return AsyncOnHold
}

// CheckDue returns the live chats whose GCTI_Chat_AsyncCheckAt has passed (the Core's clock),
// earliest first: the interactions a workflow's "stuck" strategy looks at. Ended chats are
// not included. A chat that cannot be read is left out (and logged).
func (co *Core) CheckDue() []ChatView {
	co.mu.RLock()
	if co.closed {
		co.mu.RUnlock()
		return nil
	}
	cs := make([]*chat, 0, len(co.chats))
	for _, c := range co.chats {
		cs = append(cs, c)
	}
	co.mu.RUnlock()
	now := co.clock.Now().Unix()
	var out []ChatView
	for _, c := range cs {
		c.mu.Lock()
		if err := co.syncNow(c); err != nil {
			c.mu.Unlock()
			co.log.Warn("chatcore: check-due list: chat not readable", "chat", c.id, "err", err)
			continue
		}
		if !c.st.Ended && c.st.Async && c.st.CheckAt != 0 && c.st.CheckAt <= now {
			out = append(out, c.st.view(co.node))
		}
		c.mu.Unlock()
		co.deliver(c)
	}
	slices.SortFunc(out, func(a, b ChatView) int {
		if c := cmp.Compare(a.CheckAt, b.CheckAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// restoredAt is the restoration time of a view's state (zero when never restored).
func restoredAt(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
