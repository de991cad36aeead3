package pushlink

import (
	"testing"

	"github.com/chatgate/chatgate/chatcore"
)

// TestCoreRestoredChatPushes: a chat restored through the core (chatcore.Restore) reaches the
// link as Restored, so session-restore-push-send decides whether its customer is still pushed.
func TestCoreRestoredChatPushes(t *testing.T) {
	off := chatcore.DefaultOptions()
	off.Settings.SessionRestoreExtendBy = "esp"
	on := off
	on.Settings.SessionRestorePushSend = true
	e := startCore(t, map[string]chatcore.Options{"restore-off": off, "restore-on": on})
	ctx := t.Context()
	for _, tc := range []struct {
		service, token string
		want           uint64 // pushes for the agent's join and message
	}{
		{"restore-off", "ios-token-restored-off", 0},
		{"restore-on", "ios-token-restored-on", 2},
	} {
		t.Run(tc.service, func(t *testing.T) {
			e.t = t
			cr, err := e.core.CreateChat(ctx, chatcore.CreateRequest{Service: tc.service, Nickname: "Customer", UserData: map[string]string{
				chatcore.PropAsyncMode: "true", "push_notification_deviceid": tc.token, "push_notification_type": "ios"}})
			if err != nil {
				t.Fatal(err)
			}
			e.pres.set(cr.ChatID, cr.UserID, false)
			res, err := e.core.Restore(ctx, cr.ChatID, chatcore.RestoreByWorkflow)
			if err != nil {
				t.Fatal(err)
			}
			if info := ChatInfoFromCore(res.Chat); !info.Restored {
				t.Fatal("ChatInfoFromCore lost Restored")
			}
			n0 := e.link.Stats().Notified
			e.agentJoinsAndWrites(cr.ChatID, "Anna", "we are back")
			if got := e.link.Stats().Notified - n0; got != tc.want {
				t.Fatalf("%d pushes after the restoration, want %d", got, tc.want)
			}
		})
	}
}
