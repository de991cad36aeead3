// Package pushlink connects the chat core to the push dispatcher. It decides who is woken
// by which event (an agent's message, an agent joining or leaving, the async idle alert
// and close, the end of the chat), renders the text in the customer's
// push_notification_language, reads push registrations from chat userData in both GMS
// vocabularies (push_notification_* and GCTI_Chat_PushSubscribe + GCTI_GMS_*) plus Web
// Push subscriptions, and answers the core's liveness question (CheckAlive). Next to the
// ack endpoint it serves the public VAPID key (VAPIDKeyHandler), which a browser needs
// before it can make the subscription this package later reads from userData.
//
// Why a separate package: push is a generic dispatcher that must not know chats, and the
// core must not know providers. pushlink is the only place that knows both, and it works
// on two small views (Event, ChatInfo) so its rules are tested without a running core;
// chatcore.go adapts *chatcore.Core to them.
//
// Rules, in one place:
//   - the customer's own actions never notify the customer; other participants get no
//     pushes (agents keep persistent connections);
//   - no push to a customer whose CometD connection is live, unless
//     push_notification_to_active_client (setting, or the chat's userData) says so;
//   - a subscription a provider reported dead is not pushed again, and makes CheckAlive
//     answer false at once, so the core removes the customer after its liveness rule;
//   - after a restoration, pushes resume only with session-restore-push-send.
package pushlink
