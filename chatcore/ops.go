package chatcore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// CreateRequest is a customer's Request Chat.
type CreateRequest struct {
	Service  string
	Nickname string // required ("First Last" when the client sent names only)
	Subject  string
	Email    string
	// UserData becomes the chat's userData; GCTI_Chat_AsyncMode=true makes the chat async,
	// push keys (gms-chat-v2.md §3.1) make the customer push-enabled.
	UserData map[string]string
}

// Created is the answer to CreateChat.
type Created struct {
	ChatID, UserID, SecureKey, Alias string
	Result
}

// CreateChat creates a chat with its customer (participant 1, type Client) and commits the
// customer's ParticipantJoined (index 1).
func (co *Core) CreateChat(ctx context.Context, r CreateRequest) (Created, error) {
	nick := strings.TrimSpace(r.Nickname)
	switch {
	case r.Service == "" || len(r.Service) > 64:
		return Created{}, fmt.Errorf("service name: %w", ErrInvalid)
	case nick == "":
		return Created{}, fmt.Errorf("nickname is required: %w", ErrInvalid)
	}
	if err := validText(nick, co.limits.MaxNickname, "nickname"); err != nil {
		return Created{}, err
	}
	if err := validText(r.Subject, co.limits.MaxNickname, "subject"); err != nil {
		return Created{}, err
	}
	if err := validText(r.Email, co.limits.MaxNickname, "email"); err != nil {
		return Created{}, err
	}
	if err := co.checkUserData(r.UserData, nil); err != nil {
		return Created{}, err
	}
	co.mu.RLock()
	closed := co.closed
	co.mu.RUnlock()
	if closed {
		return Created{}, ErrClosed
	}
	now := co.clock.Now()
	ms := now.UnixMilli()
	ud := maps.Clone(r.UserData)
	if ud == nil {
		ud = map[string]string{}
	}
	st := chatState{
		V: stateVersion, ID: randomID(16, idAlphabet), Service: r.Service, Created: ms,
		Subject: r.Subject, Email: r.Email, Customer: randomHex(8, true),
		UserData: ud, Async: parseBool(ud[PropAsyncMode]), NextPID: 2, Owner: co.node, LastActivity: ms,
	}
	key := randomHex(16, false)
	st.KeyHash, st.clearKey = keyHash(key), key
	cust := participant{PID: 1, UserID: st.Customer, Type: Client, Nickname: nick, Joined: ms}
	st.Parts = []participant{cust}
	if st.Async {
		st.AsyncStatus = AsyncCreated
	}
	// The stored document already includes the customer's join (index 1), so that re-reading
	// the chat later needs no transcript read unless more happened. If that append never
	// lands, the chat is found incomplete when re-read, and removed.
	stored := st
	stored.LastIndex = 1
	// ... and its bytes, encoded exactly as commit will encode it.
	join := Event{Type: EventParticipantJoined, From: cust.from(), Index: 1, UTCTime: ms}
	jb, err := json.Marshal(&join)
	if err != nil {
		return Created{}, err
	}
	stored.TranscriptBytes = int64(len(jb))
	raw, err := json.Marshal(&stored)
	if err != nil {
		return Created{}, err
	}
	rev, err := co.store.CreateChat(ctx, st.ID, raw)
	if err != nil {
		return Created{}, storeErr("chatcore: create chat", err)
	}
	c := &chat{id: st.ID, st: st, rev: rev, savedIndex: 1, lastReq: now}
	t := &txn{co: co, c: c, st: &c.st, now: now, opts: co.opts.Options(st.Service), touch: st.Customer}
	t.emit(EventParticipantJoined, cust.from(), "", "", nil)
	c.mu.Lock()
	defer co.deliver(c)
	defer c.mu.Unlock()
	// Registered before the commit so its timers find it; nobody else knows its secureKey
	// yet, and a failed creation is unregistered.
	co.mu.Lock()
	if co.closed {
		co.mu.Unlock()
		return Created{}, ErrClosed
	}
	co.chats[st.ID] = c
	co.byKey[st.KeyHash] = c
	co.mu.Unlock()
	if err := co.commit(ctx, c, t); err != nil {
		co.mu.Lock()
		delete(co.chats, st.ID)
		delete(co.byKey, st.KeyHash)
		co.mu.Unlock()
		co.unschedule(st.ID)
		c.out = nil
		if derr := co.store.DeleteChat(context.WithoutCancel(ctx), st.ID); derr != nil {
			co.log.Warn("chatcore: removing a chat whose creation failed", "chat", st.ID, "err", derr)
		}
		return Created{}, err
	}
	// Creation is a property change too (status 1, IsOnline, ChatServerAppName), and the
	// first userData (every key new) for change listeners.
	if n := len(c.out); n > 0 {
		props := st.properties(co.node)
		c.out[n-1].props = props
		c.out[n-1].change = &Change{Properties: valueChanges(nil, props), UserData: valueChanges(nil, st.UserData)}
	}
	res := Result{Chat: c.st.view(co.node), Events: t.events}
	return Created{ChatID: st.ID, UserID: st.Customer, SecureKey: key, Alias: co.node, Result: res}, nil
}

// participantOp is the common frame of an operation by a present participant of a live chat.
func (co *Core) participantOp(ctx context.Context, chatID, userID string, fn func(t *txn, p *participant) error) (Result, error) {
	return co.exec(ctx, chatID, func(t *txn) error {
		if t.st.Ended {
			return fmt.Errorf("chat %s: %w", chatID, ErrChatEnded)
		}
		p := t.st.present(userID)
		if p == nil {
			return fmt.Errorf("user %.32q in chat %s: %w", userID, chatID, ErrNotParticipant)
		}
		t.touch = userID
		return fn(t, p)
	})
}

// SendMessage commits a Message from a participant (customer, agent, supervisor or bot).
// messageType is optional and echoed on the event.
func (co *Core) SendMessage(ctx context.Context, chatID, userID, text, messageType string) (Result, error) {
	return co.SendVisible(ctx, chatID, userID, text, messageType, VisibilityAll)
}

// StartTyping commits TypingStarted; text is the optional typing preview.
func (co *Core) StartTyping(ctx context.Context, chatID, userID, text string) (Result, error) {
	return co.notice(ctx, chatID, userID, EventTypingStarted, text, false)
}

// StopTyping commits TypingStopped.
func (co *Core) StopTyping(ctx context.Context, chatID, userID, text string) (Result, error) {
	return co.notice(ctx, chatID, userID, EventTypingStopped, text, false)
}

// PushURL commits PushUrl with the URL as text.
func (co *Core) PushURL(ctx context.Context, chatID, userID, url string) (Result, error) {
	return co.notice(ctx, chatID, userID, EventPushURL, url, true)
}

// CustomNotice commits CustomNotice with free text.
func (co *Core) CustomNotice(ctx context.Context, chatID, userID, text string) (Result, error) {
	return co.notice(ctx, chatID, userID, EventCustomNotice, text, false)
}

func (co *Core) notice(ctx context.Context, chatID, userID string, typ EventType, text string, required bool) (Result, error) {
	if required && text == "" {
		return Result{}, fmt.Errorf("%s without text: %w", typ, ErrInvalid)
	}
	if err := validText(text, co.limits.MaxText, string(typ)); err != nil {
		return Result{}, err
	}
	return co.participantOp(ctx, chatID, userID, func(t *txn, p *participant) error {
		t.emit(typ, p.from(), text, "", nil)
		return nil
	})
}

// UpdateNickname commits NicknameUpdated (text = the new nickname; from carries the old
// one) and renames the participant.
func (co *Core) UpdateNickname(ctx context.Context, chatID, userID, nickname string) (Result, error) {
	nickname = strings.TrimSpace(nickname)
	if nickname == "" {
		return Result{}, fmt.Errorf("empty nickname: %w", ErrInvalid)
	}
	if err := validText(nickname, co.limits.MaxNickname, "nickname"); err != nil {
		return Result{}, err
	}
	return co.participantOp(ctx, chatID, userID, func(t *txn, p *participant) error {
		t.emit(EventNicknameUpdated, p.from(), nickname, "", nil)
		return nil
	})
}

// UpdateUserData merges data into the chat's userData (no transcript event; GMS Update
// Data). Push keys added here make the customer push-enabled from now on.
func (co *Core) UpdateUserData(ctx context.Context, chatID, userID string, data map[string]string) (Result, error) {
	if len(data) == 0 {
		return Result{}, fmt.Errorf("no userData: %w", ErrInvalid)
	}
	return co.participantOp(ctx, chatID, userID, func(t *txn, p *participant) error {
		if err := co.checkUserData(data, t.st.UserData); err != nil {
			return err
		}
		t.change(func(st *chatState) {
			ud := maps.Clone(st.UserData)
			if ud == nil {
				ud = map[string]string{}
			}
			maps.Copy(ud, data)
			st.UserData = ud
		})
		return nil
	})
}

// Touch records protocol activity of the chat's customer (a CometD connect, a REST
// refresh): it restarts flex-disconnect-timeout / flex-push-timeout. No event, no store
// write. userID may be "" for the chat's customer.
func (co *Core) Touch(chatID, userID string) error {
	c, err := co.get(chatID)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if userID != "" && userID != c.st.Customer {
		if c.st.present(userID) == nil {
			return fmt.Errorf("user %.32q in chat %s: %w", userID, chatID, ErrNotParticipant)
		}
		return nil // only the customer's protocol activity is tracked
	}
	if c.st.Ended {
		return fmt.Errorf("chat %s: %w", chatID, ErrChatEnded)
	}
	c.lastReq, c.flexStage = co.clock.Now(), 0
	co.reschedule(c)
	return nil
}

// Disconnect is the customer's (or any participant's) own leave request: ParticipantLeft
// with quit reason 0. When the customer leaves, the chat ends (see EndChat).
func (co *Core) Disconnect(ctx context.Context, chatID, userID string) (Result, error) {
	return co.Leave(ctx, chatID, userID, QuitLogout)
}

// Leave removes a participant with a quit reason. The customer leaving ends the chat: every
// other present participant leaves too (reason 5, removed by server).
func (co *Core) Leave(ctx context.Context, chatID, userID string, reason QuitReason) (Result, error) {
	return co.participantOp(ctx, chatID, userID, func(t *txn, p *participant) error {
		if p.UserID == t.st.Customer {
			endEvents(t, p.UserID, reason, QuitRemovedByServer)
			return nil
		}
		t.emit(EventParticipantLeft, p.from(), "", "", quitData(reason))
		return nil
	})
}

func quitData(r QuitReason) map[string]string {
	return map[string]string{KeyQuitReason: strconv.Itoa(int(r))}
}

// endEvents emits ParticipantLeft for every present participant: first for `first` (with
// firstReason) if present, then the others (with others), the customer last so that the chat
// ends with the customer's leave.
func endEvents(t *txn, first string, firstReason, others QuitReason) {
	if p := t.st.present(first); p != nil {
		t.emit(EventParticipantLeft, p.from(), "", "", quitData(firstReason))
	}
	var cust *participant
	for i := range t.st.Parts {
		p := &t.st.Parts[i]
		if p.Left != 0 || p.UserID == first {
			continue
		}
		if p.UserID == t.st.Customer {
			cust = p
			continue
		}
		t.emit(EventParticipantLeft, p.from(), "", "", quitData(others))
	}
	if cust != nil {
		t.emit(EventParticipantLeft, cust.from(), "", "", quitData(others))
	}
}

// JoinRequest adds an agent, supervisor or bot (External) to a chat.
type JoinRequest struct {
	Type     ParticipantType // Agent, Supervisor or External
	Nickname string
	// UserID identifies the participant (an agent's id); empty generates one. Joining again
	// with the userId of a participant who left re-joins them.
	UserID string
	// Visibility of the ParticipantJoined event: VIP for a silently monitoring supervisor,
	// INT for a coach; empty is everyone.
	Visibility Visibility
	// Bot marks an External participant as a bot: its ParticipantJoined carries userData
	// GCTI_Chat_PartyStyle=BOT.
	Bot bool
}

// Join commits ParticipantJoined for a new participant and returns it. An agent joining an
// async chat sets GCTI_Chat_AsyncStatus to -1 and counts as activity.
func (co *Core) Join(ctx context.Context, chatID string, j JoinRequest) (Participant, Result, error) {
	j, err := co.checkJoin(j)
	if err != nil {
		return Participant{}, Result{}, err
	}
	var joined From
	res, err := co.exec(ctx, chatID, func(t *txn) error {
		if t.st.Ended {
			return fmt.Errorf("chat %s: %w", chatID, ErrChatEnded)
		}
		joined, err = t.join(j)
		return err
	})
	if err != nil {
		return Participant{}, Result{}, err
	}
	return joinedParticipant(joined), res, nil
}

// Hold places an async chat on hold (dormant, GCTI_Chat_AsyncStatus -2): byUserID, when it
// is a present agent, leaves the chat (reason 0) and the chat waits for customer activity.
func (co *Core) Hold(ctx context.Context, chatID, byUserID string) (Result, error) {
	return co.exec(ctx, chatID, func(t *txn) error {
		if t.st.Ended {
			return fmt.Errorf("chat %s: %w", chatID, ErrChatEnded)
		}
		if !t.st.Async {
			return fmt.Errorf("chat %s is not async: %w", chatID, ErrInvalid)
		}
		if byUserID != "" {
			p := t.st.present(byUserID)
			if p == nil {
				return fmt.Errorf("user %.32q in chat %s: %w", byUserID, chatID, ErrNotParticipant)
			}
			if p.Type != Client {
				t.emit(EventParticipantLeft, p.from(), "", "", quitData(QuitLogout))
			}
		}
		t.change(func(st *chatState) { st.AsyncStatus = AsyncOnHold })
		return nil
	})
}

// EndChat ends a chat: every present participant leaves — byUserID (if a participant) with
// reason 0, the others with reason 4 (removed by a participant), or all with reason 5 when
// byUserID is "" (the server or workflow). The chat then accepts no more operations;
// its transcript stays readable.
func (co *Core) EndChat(ctx context.Context, chatID, byUserID string) (Result, error) {
	return co.exec(ctx, chatID, func(t *txn) error {
		if t.st.Ended {
			return fmt.Errorf("chat %s: %w", chatID, ErrChatEnded)
		}
		if byUserID == "" {
			endEvents(t, "", QuitRemovedByServer, QuitRemovedByServer)
			return nil
		}
		if t.st.present(byUserID) == nil {
			return fmt.Errorf("user %.32q in chat %s: %w", byUserID, chatID, ErrNotParticipant)
		}
		endEvents(t, byUserID, QuitLogout, QuitRemovedByOther)
		return nil
	})
}

// Purge deletes an ended chat: its files, transcript and state in the store, and its
// in-memory copy (retention; what is kept and for how long is the caller's policy).
// ErrInvalid for a chat that has not ended. Listeners that implement PurgeListener hear of
// it once it is done.
func (co *Core) Purge(ctx context.Context, chatID string) error {
	c, err := co.get(chatID)
	if err != nil {
		return err
	}
	c.mu.Lock()
	v, err := co.purgeLocked(ctx, c)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	// What was still queued for the chat goes out first, then the purge: holding the
	// chat's delivery lock (as deliver does while it calls listeners) waits for a delivery
	// another goroutine is making, and nothing new can be queued for a chat that is gone.
	co.deliver(c)
	c.dmu.Lock()
	defer c.dmu.Unlock()
	at := co.clock.Now()
	co.lmu.RLock()
	ls := co.listeners
	co.lmu.RUnlock()
	for _, l := range ls {
		if l.pl != nil {
			l.pl.OnPurged(v, at)
		}
	}
	return nil
}

// purgeLocked deletes the chat and returns it as it was. c.mu held.
func (co *Core) purgeLocked(ctx context.Context, c *chat) (ChatView, error) {
	chatID := c.id
	if err := co.sync(ctx, c); err != nil {
		return ChatView{}, err
	}
	if !c.st.Ended {
		return ChatView{}, fmt.Errorf("chat %s has not ended: %w", chatID, ErrInvalid)
	}
	v := c.st.view(co.node)
	if err := co.store.DeleteChat(ctx, chatID); err != nil {
		return ChatView{}, storeErr("chatcore: purge "+chatID, err)
	}
	if err := co.store.DeleteKey(ctx, c.st.KeyHash); err != nil {
		// The chat is gone; a stale index entry leads to no chat (ErrBadSecureKey).
		co.log.Warn("chatcore: purge: deleting the key index entry", "chat", chatID, "err", err)
	}
	c.gone = true
	co.mu.Lock()
	if co.chats[chatID] == c {
		delete(co.chats, chatID)
		delete(co.byKey, c.st.KeyHash)
	}
	co.mu.Unlock()
	co.unschedule(chatID)
	return v, nil
}
