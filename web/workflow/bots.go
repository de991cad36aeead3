package workflow

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// BotAccounts looks up the account a bot joins a chat with; *accounts.Store implements it.
type BotAccounts interface {
	Get(ctx context.Context, id string) (accounts.Account, error)
}

var _ BotAccounts = (*accounts.Store)(nil)

// addBot adds a bot account to a chat (POST /chats/{chatId}/bots {"botId": ..., "nickname":
// ...}): it joins as an External participant whose ParticipantJoined carries
// GCTI_Chat_PartyStyle=BOT, under the account's id, so the bot then acts in the chat through
// the agent API with its own token. What a bot does never counts as activity (chatcore's
// rule for External participants). The account must have role bot, be enabled and be
// scoped to the chat's service (its queues list the services it may act in: the same rule
// the agent API applies to a bot's own requests). Every refusal happens before the chat is
// touched.
func (h *handler) addBot(w http.ResponseWriter, r *http.Request) {
	id, ok := chatID(w, r)
	if !ok {
		return
	}
	var in struct {
		BotID    string `json:"botId"`
		Nickname string `json:"nickname"`
	}
	if !readJSON(w, r, &in, `{"botId": "...", "nickname": "..."}`) {
		return
	}
	if in.BotID == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "botId is required")
		return
	}
	v, err := h.cfg.Chats.Chat(id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	acct, err := h.cfg.Bots.Get(r.Context(), in.BotID)
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		writeError(w, http.StatusBadRequest, "unknown_bot", "no account with this botId")
		return
	case err != nil:
		h.log.Warn("workflow: account store not available", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the account store did not answer; retry")
		return
	case acct.Role != accounts.RoleBot:
		writeError(w, http.StatusBadRequest, "not_a_bot", "the account's role is "+string(acct.Role)+", not bot")
		return
	case acct.Disabled:
		writeError(w, http.StatusForbidden, "bot_disabled", "the bot account is disabled")
		return
	case !slices.Contains(acct.Queues, v.Service):
		writeError(w, http.StatusForbidden, "bot_out_of_scope", "the bot is not scoped to this chat's service")
		return
	case v.Ended:
		writeError(w, http.StatusConflict, "chat_ended", "the chat has ended")
		return
	}
	if p, ok := v.Participant(acct.ID); ok && p.Present {
		writeError(w, http.StatusConflict, "bot_present", "the bot is already in the chat")
		return
	}
	nick := strings.TrimSpace(in.Nickname)
	if nick == "" {
		nick = acct.DisplayName
	}
	if nick == "" {
		nick = acct.ID
	}
	_, res, err := h.cfg.Ops.Join(r.Context(), id, chatcore.JoinRequest{
		Type: chatcore.External, Nickname: nick, UserID: acct.ID, Bot: true,
	})
	h.answerOp(w, r, res, err)
}
