package agentapi

import (
	"context"
	"encoding/json"

	"github.com/chatgate/chatgate/chatcore"
	"github.com/chatgate/chatgate/web/agentapi/accounts"
)

// Query is a read (or logout) over the CometD service channel: the REST API's GET
// endpoints and POST /logout under an "action" name, so a desktop that holds only a CometD
// connection can do everything but move file bytes (files stay on REST: multipart uploads
// and attachment downloads do not fit in a Bayeux message, and the transcript read lists a
// chat's files as its FileUploaded events). REST and CometD run the same function per name.
type Query struct {
	Action string `json:"action"`
	ChatID string `json:"chatId,omitempty"`
	// From is the transcript's first index (default 1).
	From int64 `json:"from,omitempty"`
	// Queue of supervisor-queue.
	Queue string `json:"queue,omitempty"`
	// EarlierID of history-transcript: the earlier chat read through ChatID.
	EarlierID string `json:"earlierId,omitempty"`
}

// Query names (the REST path each mirrors in parentheses).
const (
	QueryMe         = "me"         // GET /me
	QueryChats      = "chats"      // GET /chats
	QueryOffers     = "offers"     // GET /offers
	QueryWorkbin    = "workbin"    // GET /workbin
	QueryChat       = "chat"       // GET /chats/{chatId}
	QueryTranscript = "transcript" // GET /chats/{chatId}/transcript?from=N
	QueryHistory    = "history"    // GET /chats/{chatId}/history
	// QueryHistoryTranscript: GET /chats/{chatId}/history/{earlierId}/transcript?from=N
	QueryHistoryTranscript = "history-transcript"
	QueryStandardResponses = "standard-responses" // GET /standard-responses
	QuerySupervisorAgents  = "supervisor-agents"  // GET /supervisor/agents
	QuerySupervisorQueues  = "supervisor-queues"  // GET /supervisor/queues
	QuerySupervisorQueue   = "supervisor-queue"   // GET /supervisor/queues/{queue}
	QuerySupervisorChats   = "supervisor-chats"   // GET /supervisor/chats
	QueryLogout            = "logout"             // POST /logout
)

// queryFunc answers one query for an authenticated caller with the REST answer's fields;
// token is the caller's token (logout revokes it).
type queryFunc func(ctx context.Context, a *API, p accounts.Principal, token string, q Query) (map[string]any, error)

var queries = map[string]queryFunc{
	QueryMe: func(_ context.Context, a *API, p accounts.Principal, _ string, _ Query) (map[string]any, error) {
		return map[string]any{"account": p.Account, "presence": a.presence(p.Account)}, nil
	},
	QueryChats: func(_ context.Context, a *API, p accounts.Principal, _ string, _ Query) (map[string]any, error) {
		return map[string]any{"chats": a.myChats(p.Account)}, nil
	},
	QueryOffers: func(_ context.Context, a *API, p accounts.Principal, _ string, _ Query) (map[string]any, error) {
		return map[string]any{"offers": a.pendingOffers(p.Account.ID)}, nil
	},
	QueryWorkbin: func(ctx context.Context, a *API, p accounts.Principal, _ string, _ Query) (map[string]any, error) {
		list, err := a.workbin(ctx, p.Account)
		if err != nil {
			return nil, err
		}
		return map[string]any{"chats": list}, nil
	},
	QueryChat: func(ctx context.Context, a *API, p accounts.Principal, _ string, q Query) (map[string]any, error) {
		ci, err := a.chatInfo(ctx, p.Account, q.ChatID)
		if err != nil {
			return nil, err
		}
		return map[string]any{"chat": ci}, nil
	},
	QueryTranscript: transcriptPage(func(ctx context.Context, a *API, p accounts.Principal, q Query, from int64) ([]Event, chatcore.Page, error) {
		return a.transcript(ctx, p.Account, q.ChatID, from)
	}),
	QueryHistoryTranscript: transcriptPage(func(ctx context.Context, a *API, p accounts.Principal, q Query, from int64) ([]Event, chatcore.Page, error) {
		return a.historyTranscript(ctx, p.Account, q.ChatID, q.EarlierID, from)
	}),
	QueryStandardResponses: func(ctx context.Context, a *API, p accounts.Principal, _ string, _ Query) (map[string]any, error) {
		list, err := a.standardResponses(ctx, p.Account)
		if err != nil {
			return nil, err
		}
		return map[string]any{"responses": list}, nil
	},
	QueryHistory: func(ctx context.Context, a *API, p accounts.Principal, _ string, q Query) (map[string]any, error) {
		list, err := a.history(ctx, p.Account, q.ChatID)
		if err != nil {
			return nil, err
		}
		return map[string]any{"chats": list}, nil
	},
	QuerySupervisorAgents: supervisorOnly(func(a *API, _ accounts.Principal) map[string]any {
		return map[string]any{"agents": a.presences()}
	}),
	QuerySupervisorQueues: supervisorOnly(func(a *API, p accounts.Principal) map[string]any {
		return map[string]any{"queues": a.queues(p.Account)}
	}),
	QuerySupervisorQueue: func(_ context.Context, a *API, p accounts.Principal, _ string, q Query) (map[string]any, error) {
		list, err := a.waiting(p.Account, q.Queue)
		if err != nil {
			return nil, err
		}
		return map[string]any{"queue": q.Queue, "chats": list}, nil
	},
	QuerySupervisorChats: supervisorOnly(func(a *API, p accounts.Principal) map[string]any {
		return map[string]any{"chats": a.liveChats(p.Account)}
	}),
	QueryLogout: func(ctx context.Context, a *API, p accounts.Principal, token string, _ Query) (map[string]any, error) {
		if p.Session {
			if err := a.cfg.Accounts.Logout(ctx, token); err != nil {
				return nil, err // answered 503: the store did not take the revocation
			}
		}
		pr, err := a.setState(ctx, p.Account, StateLoggedOut, "")
		if err != nil {
			return nil, err
		}
		return map[string]any{"presence": pr}, nil
	},
}

// transcriptPage answers one page of a transcript read from q.From (default 1).
func transcriptPage(read func(ctx context.Context, a *API, p accounts.Principal, q Query, from int64) ([]Event, chatcore.Page, error)) queryFunc {
	return func(ctx context.Context, a *API, p accounts.Principal, _ string, q Query) (map[string]any, error) {
		from := q.From
		if from == 0 {
			from = 1
		}
		if from < 1 {
			return nil, errorf(ErrInvalid, "from must be a positive index")
		}
		evs, page, err := read(ctx, a, p, q, from)
		if err != nil {
			return nil, err
		}
		return map[string]any{"events": evs, "next": page.Next, "more": page.More}, nil
	}
}

func supervisorOnly(f func(a *API, p accounts.Principal) map[string]any) queryFunc {
	return func(_ context.Context, a *API, p accounts.Principal, _ string, _ Query) (map[string]any, error) {
		if p.Account.Role != accounts.RoleSupervisor {
			return nil, errorf(ErrForbidden, "supervisors only")
		}
		return f(a, p), nil
	}
}

// query runs the named query; ok is false for a name that is not one.
func (a *API) query(ctx context.Context, p accounts.Principal, token string, q Query) (res map[string]any, ok bool, err error) {
	f, ok := queries[q.Action]
	if !ok {
		return nil, false, nil
	}
	res, err = f(ctx, a, p, token, q)
	return res, true, err
}

// queryOf reads a service-channel request as a query when its action names one.
func queryOf(data json.RawMessage) (Query, bool) {
	var q Query
	if json.Unmarshal(data, &q) != nil {
		return Query{}, false
	}
	if _, ok := queries[q.Action]; !ok {
		return Query{}, false
	}
	return q, true
}
