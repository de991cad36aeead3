package pushlink

import (
	"context"

	"github.com/chatgate/chatgate/chatcore"
)

// CoreChats is the ChatSource over the chat core.
type CoreChats struct{ Core *chatcore.Core }

// PushChat reads the chat's current state.
func (c CoreChats) PushChat(_ context.Context, chatID string) (ChatInfo, error) {
	v, err := c.Core.Chat(chatID)
	if err != nil {
		return ChatInfo{}, err
	}
	return ChatInfoFromCore(v), nil
}

// ChatInfoFromCore maps a chat snapshot to what pushlink needs.
func ChatInfoFromCore(v chatcore.ChatView) ChatInfo {
	return ChatInfo{
		ID: v.ID, Service: v.Service, UserData: v.UserData,
		CustomerID: v.Customer, SecureKey: v.SecureKey, Alias: v.Alias,
		CustomerPresent: v.CustomerPresent, Ended: v.Ended, Restored: v.Restored,
	}
}

// EventFromCore maps a committed chatcore event.
func EventFromCore(ev chatcore.Event) Event {
	return Event{
		Index: ev.Index, Type: string(ev.Type),
		FromID: ev.From.UserID, FromNickname: ev.From.Nickname, FromType: string(ev.From.Type),
		Text: ev.Text, MessageType: ev.MessageType, UserData: ev.UserData,
		CustomerHidden: !ev.VisibleTo(chatcore.Client),
	}
}

// SettingsFromOptions derives the push settings of a service from its chat options
// ([settings] flex-push-*, session-restore-push-send). TTL is flex-push-timeout: a push
// older than that is pointless, the liveness rule has acted by then.
func SettingsFromOptions(o chatcore.Options) Settings {
	s := DefaultSettings()
	st := o.Settings
	s.FlexPushOnJoin = st.FlexPushOnJoin
	s.SessionRestorePushSend = st.SessionRestorePushSend
	if st.FlexPushResendDelay > 0 {
		s.ResendDelay = st.FlexPushResendDelay
	}
	s.ResendAttempts = st.FlexPushResendAttempts
	if len(st.FlexPushContent) > 0 {
		s.Content = st.FlexPushContent
	}
	if st.FlexPushTimeout > 0 {
		s.TTL = st.FlexPushTimeout
	}
	return s
}
