// Package agentapi is the agent side of chatgate: the REST API under /agent/v1 and the
// CometD flavour of the same actions for agents, supervisors and bots (accounts in
// web/agentapi/accounts), per-agent Bayeux channels for chat events and presence, and the
// abnormal-disconnect rule for agent desktops.
//
// # Why it is built this way
//
//   - One action dispatcher (API.Do) serves REST and the CometD service channel
//     /service/agent, so the two cannot drift: the same authorization, the same answer (the
//     chat as the caller sees it, with the actions allowed now).
//   - Authorization happens before any chatcore call, in one place (authorize): no token →
//     401, a chat the caller may not act on → 403, an unknown chat → 404. A refused action
//     therefore changes nothing.
//   - Visibility is chatcore's (chatcore.Event.VisibleTo): an agent never receives VIP
//     events, a supervisor receives everything; the customer's paths (web/gmschat, push)
//     filter with the same function.
//   - Presence (ready / not-ready / logged out), the Bayeux sessions of each agent and the
//     grace timers of lost desktops are per node and in memory: they describe live
//     connections, which are per node too. What must survive a restart lives in KV: accounts
//     and sessions (accounts), workbins (CHATGATE_WORKBINS), standard responses
//     (web/agentapi/responses; the API only decides which are in scope for a caller).
//   - Contact history is for the agent handling the customer now: an earlier chat of the
//     same customer is read through the current chat (/chats/{id}/history/{earlier}/
//     transcript), with the criterion history itself uses, not through a right on the
//     earlier chat, which the agent usually never joined.
//   - Files go through chatcore's file operations (the customer's object store and the
//     chat's type and size rules, screened for agents too since the customer receives what
//     they send) and are served by web/download, the customer's download rule.
//   - Every chat an agent sees carries "capabilities": the action names it may send now, so
//     a thin desktop enables its buttons from what the server says.
//   - Supervisors get a live wall board on /agent/{id}/board (board.go): whole boards,
//     coalesced to at most one a second by one goroutine, so the cost is bounded by time and
//     not by traffic, and a board lost in a full Bayeux queue is repaired by the next.
//
// Lock order: API.mu and board.mu are never held together; neither is held while calling
// chatcore, the router, Bayeux or KV.
package agentapi
