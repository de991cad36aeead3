package agentapi

import (
	"context"
	"fmt"
	"slices"

	"github.com/chatgate/chatgate/web/agentapi/accounts"
	"github.com/chatgate/chatgate/web/agentapi/responses"
)

// StandardResponses is what the API needs of the standard responses store;
// *responses.Store implements it.
type StandardResponses interface {
	List(ctx context.Context) ([]responses.Response, error)
}

// StandardResponse is a standard response as an agent's console gets it: what to show and
// insert, not who it is scoped to.
type StandardResponse struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Shortcut string `json:"shortcut,omitempty"`
	Text     string `json:"text"`
}

// standardResponses lists the responses in scope for the account: unscoped ones, and those
// naming a queue it takes chats from or a service routed to such a queue (inQueues: a
// supervisor without queues sees every queue, a bot is scoped to services).
func (a *API) standardResponses(ctx context.Context, acct accounts.Account) ([]StandardResponse, error) {
	out := []StandardResponse{}
	if a.cfg.Responses == nil {
		return out, nil
	}
	all, err := a.cfg.Responses.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("agentapi: standard responses: %w: %w", ErrUnavailable, err)
	}
	for _, r := range all {
		if a.inScope(acct, r) {
			out = append(out, StandardResponse{ID: r.ID, Name: r.Name, Shortcut: r.Shortcut, Text: r.Text})
		}
	}
	return out, nil
}

func (a *API) inScope(acct accounts.Account, r responses.Response) bool {
	if len(r.Services) == 0 && len(r.Queues) == 0 {
		return true
	}
	for _, s := range r.Services {
		if a.inQueues(acct, s) {
			return true
		}
	}
	if acct.Role == accounts.RoleSupervisor && len(acct.Queues) == 0 {
		return true
	}
	for _, q := range acct.Queues {
		if acct.Role == accounts.RoleBot {
			q = a.cfg.QueueOf(q) // a bot's "queues" are services
		}
		if slices.Contains(r.Queues, q) {
			return true
		}
	}
	return false
}
