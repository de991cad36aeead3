package chatcore

import (
	"context"
	"fmt"
	"maps"
)

// SystemNotice commits a Notice from the server itself (from.type External, nickname
// "system", participantId 0), as the idle-control notices are: a party outside the chat
// telling its participants something (chatcore/routing's "no agent is available" notice).
// It is not activity for inactivity control and does not change GCTI_Chat_AsyncStatus.
// userData is copied onto the event; it must not carry idle-control (KeyIdleControl is the
// core's own).
func (co *Core) SystemNotice(ctx context.Context, chatID, text string, userData map[string]string) (Result, error) {
	if text == "" {
		return Result{}, fmt.Errorf("system notice without text: %w", ErrInvalid)
	}
	if err := validText(text, co.limits.MaxText, "notice"); err != nil {
		return Result{}, err
	}
	if _, ok := userData[KeyIdleControl]; ok {
		return Result{}, fmt.Errorf("system notice with %s: %w", KeyIdleControl, ErrInvalid)
	}
	if err := co.checkUserData(userData, nil); err != nil {
		return Result{}, err
	}
	ud := maps.Clone(userData)
	return co.exec(ctx, chatID, func(t *txn) error {
		if t.st.Ended {
			return fmt.Errorf("chat %s: %w", chatID, ErrChatEnded)
		}
		t.emit(EventNotice, systemFrom, text, "", ud)
		return nil
	})
}
