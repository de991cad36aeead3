package agentapi

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/chatcore/routing"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// Action is one agent request, the same over REST (the action comes from the path, the
// other fields from the JSON body) and over CometD (/service/agent, every field in data).
type Action struct {
	Action string `json:"action,omitempty"`
	ChatID string `json:"chatId,omitempty"`
	// Text of a message, typing preview or notice; URL of push-url.
	Text        string `json:"text,omitempty"`
	URL         string `json:"url,omitempty"`
	MessageType string `json:"messageType,omitempty"`
	// Visibility of a message: ALL (default; a supervisor's default is its mode), INT, VIP.
	Visibility string `json:"visibility,omitempty"`
	// Agent is the target of transfer and invite.
	Agent string `json:"agent,omitempty"`
	// Disposition of done.
	Disposition string `json:"disposition,omitempty"`
	// Mode of a supervisor's join or mode change: monitor, coach, barge.
	Mode string `json:"mode,omitempty"`
	// WebapiToken is the ChatServerWebapiToken of a restoring desktop's join.
	WebapiToken string `json:"ChatServerWebapiToken,omitempty"`
	// State and Reason of a state change.
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// ActState is the presence action name.
const ActState = "state"

// Answer is what an action returns.
type Answer struct {
	Chat     *ChatInfo `json:"chat,omitempty"`
	Presence *Presence `json:"presence,omitempty"`
	// Events are the events the action committed, as the caller sees them.
	Events []Event `json:"events,omitempty"`
	// Restored: the join restored the chat's session (ChatServerWebapiToken).
	Restored bool `json:"restored,omitempty"`
}

// MaxDisposition bounds a disposition.
const MaxDisposition = 256

// DispositionKey is the userData key done writes.
const DispositionKey = "Disposition"

// coreErr maps chatcore's errors onto the API's.
func coreErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, routing.ErrNoOffer):
		return fmt.Errorf("%w: %w", ErrForbidden, err)
	case errors.Is(err, chatcore.ErrChatNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, chatcore.ErrNotParticipant):
		return fmt.Errorf("%w: %w", ErrForbidden, err)
	case errors.Is(err, chatcore.ErrInvalid), errors.Is(err, chatcore.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	case errors.Is(err, chatcore.ErrChatEnded), errors.Is(err, chatcore.ErrRestoreNotAllowed), errors.Is(err, chatcore.ErrConflict):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// access is what the caller is to a chat.
type access struct {
	view      chatcore.ChatView
	me        chatcore.Participant // zero UserID: never a participant
	present   bool
	inWorkbin bool
	mayJoin   bool
	offered   bool // routing offers it to the caller now (accept / reject)
}

// may reports whether the caller may see the chat at all.
func (ac access) may() bool {
	return ac.present || ac.inWorkbin || ac.mayJoin || ac.offered || ac.me.UserID != ""
}

// inQueues reports whether the account takes chats of this service's queue (an account
// without queues takes none, except supervisors, who see every queue then).
func (a *API) inQueues(acct accounts.Account, service string) bool {
	if acct.Role == accounts.RoleSupervisor && len(acct.Queues) == 0 {
		return true
	}
	if acct.Role == accounts.RoleBot {
		return slices.Contains(acct.Queues, service) // bots are scoped to services
	}
	return slices.Contains(acct.Queues, a.cfg.QueueOf(service))
}

// access loads a chat and works out the caller's rights. ErrNotFound for an unknown (or
// malformed) id; ErrForbidden for a bot outside its services.
func (a *API) access(ctx context.Context, acct accounts.Account, chatID string) (access, error) {
	if !validKeyPart(chatID) {
		return access{}, errorf(ErrNotFound, "chat %.64q", chatID)
	}
	v, err := a.cfg.Chats.Chat(chatID)
	if err != nil {
		return access{}, coreErr(err)
	}
	if acct.Role == accounts.RoleBot && !slices.Contains(acct.Queues, v.Service) {
		return access{}, errorf(ErrForbidden, "bot %s is not scoped to service %s", acct.ID, v.Service)
	}
	ac := access{view: v}
	ac.me, _ = v.Participant(acct.ID)
	ac.present = ac.me.Present && !v.Ended
	if ac.inWorkbin, err = a.wb.has(ctx, acct.ID, chatID); err != nil {
		return access{}, err
	}
	if !v.Ended && !ac.present {
		ac.offered = a.offered(chatID, acct.ID)
		switch {
		case ac.inWorkbin, ac.me.UserID != "":
			ac.mayJoin = true // reopen from the workbin or from contact history
		case acct.Role == accounts.RoleSupervisor:
			ac.mayJoin = a.inQueues(acct, v.Service)
		case acct.Role == accounts.RoleBot:
			ac.mayJoin = true
		case a.cfg.Router == nil:
			// Without routing, an agent picks waiting chats from its queues.
			ac.mayJoin = a.inQueues(acct, v.Service) && !agentPresent(v)
		}
	}
	return ac, nil
}

// Do runs one action for an authenticated caller. Every refusal happens before the chat is
// changed.
func (a *API) Do(ctx context.Context, p accounts.Principal, act Action) (Answer, error) {
	ans, err := a.do(ctx, p, act)
	a.st.action(act.Action, err)
	return ans, err
}

func (a *API) do(ctx context.Context, p accounts.Principal, act Action) (Answer, error) {
	acct := p.Account
	if act.Action == ActState {
		pr, err := a.setState(ctx, acct, State(act.State), act.Reason)
		if err != nil {
			return Answer{}, err
		}
		return Answer{Presence: &pr}, nil
	}
	if !slices.Contains(chatActions, act.Action) {
		return Answer{}, errorf(ErrInvalid, "unknown action %.32q", act.Action)
	}
	ac, err := a.access(ctx, acct, act.ChatID)
	if err != nil {
		return Answer{}, err
	}
	// A restoring desktop's join is authorized by its ChatServerWebapiToken (checked in join).
	if !ac.may() && (act.Action != ActJoin || act.WebapiToken == "") {
		return Answer{}, errorf(ErrForbidden, "chat %s is not yours", act.ChatID)
	}
	typ := partyType(acct.Role)
	id := ac.view.ID
	needPresent := act.Action != ActJoin && act.Action != ActDone && act.Action != ActAccept && act.Action != ActReject
	if needPresent && !ac.present {
		if ac.view.Ended {
			return Answer{}, errorf(ErrConflict, "chat %s has ended", id)
		}
		return Answer{}, errorf(ErrForbidden, "you are not in chat %s", id)
	}
	var res chatcore.Result
	var ans Answer
	switch act.Action {
	case ActJoin:
		res, ans.Restored, err = a.join(ctx, acct, ac, act)
	case ActAccept, ActReject:
		if !ac.offered {
			return Answer{}, errorf(ErrForbidden, "chat %s is not offered to you", id)
		}
		if act.Action == ActReject {
			err = a.cfg.Router.Reject(acct.ID, id)
			ac.offered = false
			break
		}
		if typ == chatcore.Agent && len(a.chatsOf(acct.ID)) >= capacity(acct) {
			return Answer{}, errorf(ErrConflict, "at capacity (%d chats)", capacity(acct))
		}
		_, res, err = a.cfg.Router.Accept(ctx, acct.ID, id)
		ac.offered = false
		if err == nil {
			if rerr := a.wb.remove(ctx, acct.ID, id); rerr != nil {
				a.log.Warn("agentapi: removing an accepted chat from the workbin", "agent", acct.ID, "chat", id, "err", rerr)
			}
			ac.inWorkbin = false
		}
	case ActSend:
		vis := chatcore.VisibilityAll
		if typ == chatcore.Supervisor {
			vis = a.modeOf(acct.ID, id)
		}
		if act.Visibility != "" {
			if vis, err = chatcore.ParseVisibility(act.Visibility); err != nil {
				return Answer{}, coreErr(err)
			}
		}
		if !typ.MayUse(vis) {
			return Answer{}, errorf(ErrForbidden, "a %s may not send with visibility %s", acct.Role, vis)
		}
		res, err = a.cfg.Chats.SendVisible(ctx, id, acct.ID, act.Text, act.MessageType, vis)
	case ActTypingStart, ActTypingStop, ActNotice, ActPushURL:
		// Notices are seen by everyone: a monitoring or coaching supervisor cannot send them.
		if typ == chatcore.Supervisor && a.modeOf(acct.ID, id) != chatcore.VisibilityAll {
			return Answer{}, errorf(ErrConflict, "%s would be seen by the customer; barge in first", act.Action)
		}
		switch act.Action {
		case ActTypingStart:
			res, err = a.cfg.Chats.StartTyping(ctx, id, acct.ID, act.Text)
		case ActTypingStop:
			res, err = a.cfg.Chats.StopTyping(ctx, id, acct.ID, act.Text)
		case ActNotice:
			res, err = a.cfg.Chats.CustomNotice(ctx, id, acct.ID, act.Text)
		default:
			res, err = a.cfg.Chats.PushURL(ctx, id, acct.ID, act.URL)
		}
	case ActLeave:
		vis := chatcore.VisibilityAll
		if typ == chatcore.Supervisor {
			vis = a.modeOf(acct.ID, id)
		}
		if res, err = a.cfg.Chats.LeaveWith(ctx, id, acct.ID, chatcore.QuitLogout, vis); err == nil {
			a.clearMode(acct.ID, id)
		}
	case ActEnd:
		res, err = a.cfg.Chats.EndChat(ctx, id, acct.ID)
	case ActHold:
		if typ != chatcore.Agent {
			return Answer{}, errorf(ErrForbidden, "only agents place chats on hold")
		}
		if !ac.view.Async {
			return Answer{}, errorf(ErrConflict, "chat %s is not async: it cannot be placed on hold", id)
		}
		// The workbin entry first: a hold whose entry failed would leave the chat nowhere.
		if err := a.wb.put(ctx, acct.ID, WorkbinItem{ChatID: id, Service: ac.view.Service, Since: a.clock.Now().UTC()}); err != nil {
			return Answer{}, err
		}
		if res, err = a.cfg.Chats.Hold(ctx, id, acct.ID); err != nil {
			_ = a.wb.remove(ctx, acct.ID, id)
		}
	case ActRelease:
		res, err = a.cfg.Chats.ReleaseToQueue(ctx, id, acct.ID)
	case ActTransfer, ActInvite:
		var target accounts.Account
		if target, err = a.target(ctx, acct, act.Agent); err != nil {
			return Answer{}, err
		}
		j := chatcore.JoinRequest{Type: partyType(target.Role), Nickname: target.DisplayName, UserID: target.ID}
		if act.Action == ActTransfer {
			_, res, err = a.cfg.Chats.Transfer(ctx, id, acct.ID, j)
		} else {
			_, res, err = a.cfg.Chats.Join(ctx, id, j)
		}
	case ActDone:
		if ac.present {
			return Answer{}, errorf(ErrConflict, "leave or hold chat %s before marking it done", id)
		}
		if len(act.Disposition) > MaxDisposition {
			return Answer{}, errorf(ErrInvalid, "disposition over %d bytes", MaxDisposition)
		}
		if act.Disposition != "" {
			if res, err = a.cfg.Chats.Annotate(ctx, id, map[string]string{DispositionKey: act.Disposition}); err != nil {
				return Answer{}, coreErr(err)
			}
		}
		err = a.wb.remove(ctx, acct.ID, id)
		ac.inWorkbin = false
	case ActMode:
		if typ != chatcore.Supervisor {
			return Answer{}, errorf(ErrForbidden, "only supervisors switch modes")
		}
		vis, ok := parseMode(act.Mode)
		if !ok {
			return Answer{}, errorf(ErrInvalid, "mode must be monitor, coach or barge")
		}
		a.setMode(acct.ID, id, vis)
	}
	if err != nil {
		return Answer{}, coreErr(err)
	}
	v := res.Chat
	if v.ID == "" {
		if v, err = a.cfg.Chats.Chat(id); err != nil {
			return Answer{}, coreErr(err)
		}
	}
	if me, _ := v.Participant(acct.ID); me.Present && !v.Ended && typ == chatcore.Agent && v.UserData[WebapiTokenKey] == "" {
		// The first agent in the chat: give the interaction its restoration token.
		if r2, err := a.cfg.Chats.Annotate(ctx, id, map[string]string{WebapiTokenKey: newWebapiToken()}); err == nil {
			v = r2.Chat
		} else {
			a.log.Warn("agentapi: storing the restoration token", "chat", id, "err", err)
		}
	}
	a.indexChat(v)
	if act.Action == ActHold {
		ac.inWorkbin = true
	}
	if act.Action == ActJoin {
		ac.inWorkbin = false
	}
	me, _ := v.Participant(acct.ID)
	mayJoin := !v.Ended && !me.Present && (ac.inWorkbin || me.UserID != "")
	ci := a.info(v, acct, ac.inWorkbin, mayJoin, a.offered(id, acct.ID))
	ans.Chat = &ci
	if len(res.Events) > 0 {
		ans.Events = wireEvents(res.Events, typ)
	}
	return ans, nil
}

var chatActions = []string{ActAccept, ActReject, ActJoin, ActSend, ActTypingStart, ActTypingStop, ActNotice, ActPushURL, ActLeave, ActEnd, ActHold, ActRelease, ActTransfer, ActInvite, ActDone, ActMode}

// join runs a join: restoration with the ChatServerWebapiToken, capacity, supervisor mode.
func (a *API) join(ctx context.Context, acct accounts.Account, ac access, act Action) (chatcore.Result, bool, error) {
	v := ac.view
	if ac.present {
		return chatcore.Result{}, false, errorf(ErrConflict, "already in chat %s", v.ID)
	}
	if v.Ended {
		return chatcore.Result{}, false, errorf(ErrConflict, "chat %s has ended", v.ID)
	}
	tokenOK := webapiTokenOK(v, act.WebapiToken)
	if act.WebapiToken != "" && !tokenOK {
		return chatcore.Result{}, false, errorf(ErrForbidden, "wrong %s", WebapiTokenKey)
	}
	if !tokenOK && !ac.mayJoin {
		return chatcore.Result{}, false, errorf(ErrForbidden, "chat %s is not offered to you", v.ID)
	}
	typ := partyType(acct.Role)
	vis := chatcore.VisibilityAll
	if typ == chatcore.Supervisor {
		vis = chatcore.VisibilityVIP // supervisors join silently unless they say otherwise
		if act.Mode != "" {
			var ok bool
			if vis, ok = parseMode(act.Mode); !ok {
				return chatcore.Result{}, false, errorf(ErrInvalid, "mode must be monitor, coach or barge")
			}
		}
	} else if act.Mode != "" {
		return chatcore.Result{}, false, errorf(ErrInvalid, "only supervisors join with a mode")
	}
	if typ == chatcore.Agent && len(a.chatsOf(acct.ID)) >= capacity(acct) {
		return chatcore.Result{}, false, errorf(ErrConflict, "at capacity (%d chats)", capacity(acct))
	}
	restored := false
	if tokenOK {
		_, err := a.cfg.Chats.Restore(ctx, v.ID, chatcore.RestoreByAgent)
		switch {
		case err == nil:
			restored = true
			a.log.Info("chat restored by the agent desktop", "chat", v.ID, "agent", acct.ID)
		case errors.Is(err, chatcore.ErrRestoreNotAllowed), errors.Is(err, chatcore.ErrInvalid):
			// session-restore-extend-by does not include the agent (or not async): a
			// plain join.
		default:
			return chatcore.Result{}, false, coreErr(err)
		}
	}
	_, res, err := a.cfg.Chats.Join(ctx, v.ID, chatcore.JoinRequest{
		Type: typ, Nickname: acct.DisplayName, UserID: acct.ID, Visibility: vis, Bot: acct.Role == accounts.RoleBot,
	})
	if err != nil {
		return chatcore.Result{}, false, err
	}
	if typ == chatcore.Supervisor {
		a.setMode(acct.ID, v.ID, vis)
	}
	if err := a.wb.remove(ctx, acct.ID, v.ID); err != nil {
		a.log.Warn("agentapi: removing a reopened chat from the workbin", "agent", acct.ID, "chat", v.ID, "err", err)
	}
	return res, restored, nil
}

// target resolves the agent a chat is transferred to or invited to.
func (a *API) target(ctx context.Context, from accounts.Account, id string) (accounts.Account, error) {
	if id == "" || id == from.ID {
		return accounts.Account{}, errorf(ErrInvalid, "agent must name another account")
	}
	t, err := a.cfg.Accounts.Get(ctx, id)
	if err != nil {
		if errors.Is(err, accounts.ErrNotFound) {
			return accounts.Account{}, errorf(ErrInvalid, "no account %.64q", id)
		}
		return accounts.Account{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if t.Disabled || t.Role == accounts.RoleBot {
		return accounts.Account{}, errorf(ErrInvalid, "account %s cannot take chats", id)
	}
	a.mu.Lock()
	ag := a.agents[id]
	loggedIn := ag != nil && ag.state != StateLoggedOut
	a.mu.Unlock()
	if !loggedIn {
		return accounts.Account{}, errorf(ErrConflict, "agent %s is logged out", id)
	}
	if t.Role == accounts.RoleAgent && len(a.chatsOf(id)) >= capacity(t) {
		return accounts.Account{}, errorf(ErrConflict, "agent %s is at capacity", id)
	}
	return t, nil
}

// chatInfo is the GET of one chat.
func (a *API) chatInfo(ctx context.Context, acct accounts.Account, chatID string) (ChatInfo, error) {
	ac, err := a.access(ctx, acct, chatID)
	if err != nil {
		return ChatInfo{}, err
	}
	if !ac.may() {
		return ChatInfo{}, errorf(ErrForbidden, "chat %s is not yours", chatID)
	}
	return a.info(ac.view, acct, ac.inWorkbin, ac.mayJoin, ac.offered), nil
}

// transcript returns one page of the events from index from that the caller sees (the
// core bounds the page), with the index to read next.
func (a *API) transcript(ctx context.Context, acct accounts.Account, chatID string, from int64) ([]Event, chatcore.Page, error) {
	ac, err := a.access(ctx, acct, chatID)
	if err != nil {
		return nil, chatcore.Page{}, err
	}
	if !ac.may() {
		return nil, chatcore.Page{}, errorf(ErrForbidden, "chat %s is not yours", chatID)
	}
	page, err := a.cfg.Chats.EventsPage(ctx, chatID, max(from, 1), 0, 0)
	if err != nil {
		return nil, chatcore.Page{}, coreErr(err)
	}
	return wireEvents(page.Events, partyType(acct.Role)), page, nil
}
