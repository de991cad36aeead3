package agentapi

import (
	"context"
	"slices"
	"strings"

	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// myChats lists the live chats the caller is in.
func (a *API) myChats(acct accounts.Account) []ChatInfo {
	ids := a.chatsOf(acct.ID)
	slices.Sort(ids)
	out := []ChatInfo{}
	for _, id := range ids {
		v, err := a.cfg.Chats.Chat(id)
		if err != nil {
			continue
		}
		out = append(out, a.info(v, acct, false, false, false))
	}
	return out
}

// workbin lists the caller's workbin with each chat's view.
func (a *API) workbin(ctx context.Context, acct accounts.Account) ([]ChatInfo, error) {
	items, err := a.wb.list(ctx, acct.ID, a.cfg.MaxList)
	if err != nil {
		return nil, err
	}
	out := []ChatInfo{}
	for _, it := range items {
		v, err := a.cfg.Chats.Chat(it.ChatID)
		if err != nil {
			continue // purged
		}
		me, _ := v.Participant(acct.ID)
		out = append(out, a.info(v, acct, true, !v.Ended && !me.Present, false))
	}
	return out, nil
}

// QueueInfo is a queue as a supervisor sees it.
type QueueInfo struct {
	Name    string `json:"name"`
	Waiting int    `json:"waiting"` // live chats with no agent
	Active  int    `json:"active"`  // live chats with an agent
	Ready   int    `json:"ready"`   // ready agents of the queue on this node
}

// liveChats lists the live chats of the supervisor's queues (all when it has none).
func (a *API) liveChats(acct accounts.Account) []ChatInfo {
	var out []ChatInfo
	for _, id := range a.cfg.Chats.ChatIDs() {
		v, err := a.cfg.Chats.Chat(id)
		if err != nil || v.Ended || !a.inQueues(acct, v.Service) {
			continue
		}
		out = append(out, a.info(v, acct, false, true, false))
	}
	slices.SortFunc(out, func(x, y ChatInfo) int { return x.Created.Compare(y.Created) })
	if len(out) > a.cfg.MaxList {
		out = out[:a.cfg.MaxList]
	}
	if out == nil {
		out = []ChatInfo{}
	}
	return out
}

// queues summarizes the supervisor's queues.
func (a *API) queues(acct accounts.Account) []QueueInfo {
	by := map[string]*QueueInfo{}
	get := func(name string) *QueueInfo {
		q := by[name]
		if q == nil {
			q = &QueueInfo{Name: name}
			by[name] = q
		}
		return q
	}
	for _, q := range acct.Queues {
		get(q)
	}
	for _, id := range a.cfg.Chats.ChatIDs() {
		v, err := a.cfg.Chats.Chat(id)
		if err != nil || v.Ended || !a.inQueues(acct, v.Service) {
			continue
		}
		q := get(a.cfg.QueueOf(v.Service))
		if agentPresent(v) {
			q.Active++
		} else {
			q.Waiting++
		}
	}
	for _, p := range a.presences() {
		if p.State != StateReady || p.Role != string(accounts.RoleAgent) {
			continue
		}
		for _, qn := range p.Queues {
			if q, ok := by[qn]; ok {
				q.Ready++
			}
		}
	}
	out := make([]QueueInfo, 0, len(by))
	for _, q := range by {
		out = append(out, *q)
	}
	slices.SortFunc(out, func(x, y QueueInfo) int { return strings.Compare(x.Name, y.Name) })
	return out
}
