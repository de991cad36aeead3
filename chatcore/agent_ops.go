package chatcore

import (
	"context"
	"fmt"
	"maps"
	"strings"
)

// Visibility says who sees an event (agents.md "Participants and visibility").
type Visibility string

// Visibilities. The empty value means VisibilityAll (stored events omit it).
const (
	// VisibilityAll: everyone, the customer included (conference; the default).
	VisibilityAll Visibility = "ALL"
	// VisibilityInternal: agents, supervisors and bots; never the customer (coaching).
	VisibilityInternal Visibility = "INT"
	// VisibilityVIP: supervisors only (silent monitoring).
	VisibilityVIP Visibility = "VIP"
)

// All reports whether everyone sees an event of this visibility.
func (v Visibility) All() bool { return v == "" || v == VisibilityAll }

// ParseVisibility reads ALL, INT or VIP (case-insensitive); "" is ALL.
func ParseVisibility(s string) (Visibility, error) {
	switch v := Visibility(strings.ToUpper(strings.TrimSpace(s))); v {
	case "", VisibilityAll:
		return VisibilityAll, nil
	case VisibilityInternal, VisibilityVIP:
		return v, nil
	}
	return "", fmt.Errorf("visibility %.16q (want ALL, INT or VIP): %w", s, ErrInvalid)
}

// stored is the form kept on events: "" for ALL.
func (v Visibility) stored() Visibility {
	if v.All() {
		return ""
	}
	return v
}

// Bots: an External participant whose ParticipantJoined carries GCTI_Chat_PartyStyle=BOT.
const (
	KeyPartyStyle = "GCTI_Chat_PartyStyle"
	PartyStyleBot = "BOT"
)

// MayUse reports whether a participant of type t may send with visibility v: the customer
// only ALL, agents ALL and INT, supervisors and bots (External) all three.
func (t ParticipantType) MayUse(v Visibility) bool {
	switch {
	case v.All():
		return true
	case v == VisibilityInternal:
		return t == Agent || t == Supervisor || t == External
	case v == VisibilityVIP:
		return t == Supervisor || t == External
	}
	return false
}

// VisibleTo reports whether a participant of type t sees e: INT events are hidden from the
// customer, VIP events from everyone but supervisors. Every path that carries events to a
// customer (CometD, REST, push, transcript reads) filters with it.
func (e Event) VisibleTo(t ParticipantType) bool {
	switch e.Visibility {
	case "", VisibilityAll:
		return true
	case VisibilityInternal:
		return t != Client
	case VisibilityVIP:
		return t == Supervisor
	}
	return false // an unknown visibility is shown to nobody
}

// VisibleEvents returns the events of evs a participant of type t sees. It returns evs
// itself when nothing is hidden.
func VisibleEvents(evs []Event, t ParticipantType) []Event {
	for i := range evs {
		if !evs[i].VisibleTo(t) {
			out := make([]Event, 0, len(evs)-1)
			out = append(out, evs[:i]...)
			for _, e := range evs[i+1:] {
				if e.VisibleTo(t) {
					out = append(out, e)
				}
			}
			return out
		}
	}
	return evs
}

// SendVisible commits a Message with a visibility: ALL (everyone), INT (coaching: not the
// customer) or VIP (monitoring: supervisors only). ErrInvalid when the sender's type may not
// use it (see ParticipantType.MayUse). INT and VIP messages are not activity for inactivity
// control (activity is what everyone sees).
func (co *Core) SendVisible(ctx context.Context, chatID, userID, text, messageType string, vis Visibility) (Result, error) {
	if text == "" {
		return Result{}, fmt.Errorf("empty message: %w", ErrInvalid)
	}
	if err := validText(text, co.limits.MaxText, "message"); err != nil {
		return Result{}, err
	}
	if err := validText(messageType, co.limits.MaxNickname, "messageType"); err != nil {
		return Result{}, err
	}
	if _, err := ParseVisibility(string(vis)); err != nil {
		return Result{}, err
	}
	return co.participantOp(ctx, chatID, userID, func(t *txn, p *participant) error {
		if !p.Type.MayUse(vis) {
			return fmt.Errorf("a %s may not send with visibility %s: %w", p.Type, vis, ErrInvalid)
		}
		t.emit(EventMessage, p.from(), text, messageType, nil)
		t.events[len(t.events)-1].Visibility = vis.stored()
		return nil
	})
}

// checkJoin validates a JoinRequest before any store access.
func (co *Core) checkJoin(j JoinRequest) (JoinRequest, error) {
	j.Nickname = strings.TrimSpace(j.Nickname)
	if !j.Type.valid() || j.Type == Client || j.Nickname == "" {
		return j, fmt.Errorf("join needs type Agent, Supervisor or External and a nickname: %w", ErrInvalid)
	}
	if err := validText(j.Nickname, co.limits.MaxNickname, "nickname"); err != nil {
		return j, err
	}
	if len(j.UserID) > 128 {
		return j, fmt.Errorf("userId: %w", ErrTooLarge)
	}
	if _, err := ParseVisibility(string(j.Visibility)); err != nil {
		return j, err
	}
	if j.Bot && j.Type != External {
		return j, fmt.Errorf("only an External participant can be a bot: %w", ErrInvalid)
	}
	if !j.Type.MayUse(j.Visibility) {
		return j, fmt.Errorf("a %s may not join with visibility %s: %w", j.Type, j.Visibility, ErrInvalid)
	}
	return j, nil
}

// join emits the ParticipantJoined of a checked JoinRequest (a re-join keeps the
// participant's id).
func (t *txn) join(j JoinRequest) (From, error) {
	uid := j.UserID
	pid := t.st.NextPID
	if uid == "" {
		uid = randomHex(8, true)
	} else if _, p := t.st.part(uid); p != nil {
		if p.Left == 0 {
			return From{}, fmt.Errorf("user %.32q is already in chat %s: %w", uid, t.st.ID, ErrInvalid)
		}
		if p.Type != j.Type {
			return From{}, fmt.Errorf("user %.32q re-joins with another type: %w", uid, ErrInvalid)
		}
		pid = p.PID
	}
	joined := From{Nickname: j.Nickname, ParticipantID: pid, Type: j.Type, UserID: uid}
	var ud map[string]string
	if j.Bot {
		ud = map[string]string{KeyPartyStyle: PartyStyleBot}
	}
	t.emit(EventParticipantJoined, joined, "", "", ud)
	t.events[len(t.events)-1].Visibility = j.Visibility.stored()
	return joined, nil
}

func joinedParticipant(f From) Participant {
	return Participant{ParticipantID: f.ParticipantID, UserID: f.UserID, Type: f.Type, Nickname: f.Nickname, Present: true}
}

// staffOp is the frame of an operation by a present agent, supervisor or bot of a live chat.
func (co *Core) staffOp(ctx context.Context, chatID, userID string, fn func(t *txn, p *participant) error) (Result, error) {
	return co.participantOp(ctx, chatID, userID, func(t *txn, p *participant) error {
		if p.Type == Client {
			return fmt.Errorf("the customer cannot do this: %w", ErrInvalid)
		}
		return fn(t, p)
	})
}

// Transfer hands the chat from a present agent (or supervisor, or bot) to another party in
// one commit: the target joins, then fromUserID leaves (reason 0). Status stays or becomes
// -1 through the target agent's join.
func (co *Core) Transfer(ctx context.Context, chatID, fromUserID string, to JoinRequest) (Participant, Result, error) {
	to, err := co.checkJoin(to)
	if err != nil {
		return Participant{}, Result{}, err
	}
	if to.UserID == fromUserID {
		return Participant{}, Result{}, fmt.Errorf("transfer to oneself: %w", ErrInvalid)
	}
	var joined From
	res, err := co.staffOp(ctx, chatID, fromUserID, func(t *txn, p *participant) error {
		if joined, err = t.join(to); err != nil {
			return err
		}
		t.emit(EventParticipantLeft, p.from(), "", "", quitData(QuitLogout))
		return nil
	})
	if err != nil {
		return Participant{}, Result{}, err
	}
	return joinedParticipant(joined), res, nil
}

// ReleaseToQueue is "transfer by queue": the present agent (or bot) leaves (reason 0) and an
// async chat's GCTI_Chat_AsyncStatus becomes 5, which routes it again.
func (co *Core) ReleaseToQueue(ctx context.Context, chatID, byUserID string) (Result, error) {
	return co.staffOp(ctx, chatID, byUserID, func(t *txn, p *participant) error {
		t.emit(EventParticipantLeft, p.from(), "", "", quitData(QuitLogout))
		if t.st.Async {
			t.change(func(st *chatState) { st.AsyncStatus = AsyncQueued })
		}
		return nil
	})
}

// AgentLost removes an agent whose desktop disconnected abnormally (its connection stayed
// lost beyond the grace period): ParticipantLeft with quit reason 3 (the participant's
// connection was lost, chatgate's choice: the original names no code for it), and, when no
// other agent remains in an async chat, GCTI_Chat_AsyncStatus 4, which routes it again.
func (co *Core) AgentLost(ctx context.Context, chatID, userID string) (Result, error) {
	return co.staffOp(ctx, chatID, userID, func(t *txn, p *participant) error {
		t.emit(EventParticipantLeft, p.from(), "", "", quitData(QuitProtocolInactivity))
		if !t.st.Async {
			return nil
		}
		for _, o := range t.st.Parts {
			if o.Left == 0 && o.Type == Agent && o.UserID != userID {
				return nil
			}
		}
		t.change(func(st *chatState) { st.AsyncStatus = AsyncAgentLost })
		return nil
	})
}

// LeaveWith removes a participant with a quit reason and a visibility for its
// ParticipantLeft: a silently monitoring supervisor leaves with VIP, as it joined. The
// customer cannot leave this way (use Leave).
func (co *Core) LeaveWith(ctx context.Context, chatID, userID string, reason QuitReason, vis Visibility) (Result, error) {
	if _, err := ParseVisibility(string(vis)); err != nil {
		return Result{}, err
	}
	return co.staffOp(ctx, chatID, userID, func(t *txn, p *participant) error {
		if !p.Type.MayUse(vis) {
			return fmt.Errorf("a %s may not leave with visibility %s: %w", p.Type, vis, ErrInvalid)
		}
		t.emit(EventParticipantLeft, p.from(), "", "", quitData(reason))
		t.events[len(t.events)-1].Visibility = vis.stored()
		return nil
	})
}

// Annotate merges data into a chat's userData on behalf of the server side (an agent's
// disposition, a workbin note), live or ended, without a transcript event. It is not a
// customer operation: callers authorize it.
func (co *Core) Annotate(ctx context.Context, chatID string, data map[string]string) (Result, error) {
	if len(data) == 0 {
		return Result{}, fmt.Errorf("no userData: %w", ErrInvalid)
	}
	return co.exec(ctx, chatID, func(t *txn) error {
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
