// Package routing is chatgate's built-in router: it offers the chats that wait for an agent
// to ready agents with free capacity, and turns an accepted offer into the agent's Join.
//
// # What it does
//
//   - Services map to queues (Config.Services: queue, priority, the "no agent" notice).
//   - A chat waits when it is live, no agent and no bot (External) is in it, and it asks
//     for one: an async chat whose GCTI_Chat_AsyncStatus is > 0 (1 new, 2 customer wrote,
//     3 alerted, 4 agent lost, 5 released to a queue); any regular chat. A bot hands a chat
//     to the queue by leaving it (chatcore.ReleaseToQueue).
//   - Agents log in (Login: queues = skills, capacity = concurrent chats), become Ready or
//     NotReady (with a reason), log out. Load = chats the agent is in (from the chats'
//     participants) + offers pending for it.
//   - Waiting chats are offered FIFO within a priority: across the queues an agent serves,
//     the highest priority first, then the oldest. The agent offered is the ready one with
//     the lowest load, then the one that has waited longest since its last offer.
//   - The last agent who handled the customer (the same chat, or the same customer by
//     e-mail or the userData key Config.CustomerKey) is offered the chat first for
//     Config.LastAgentWindow after it left, if that agent is ready with free capacity;
//     otherwise the chat goes to anyone at once. A chat released to a queue (status 5) has
//     no preference, and the agent who released it is skipped for Config.RejectCooldown.
//   - An offer lasts Config.OfferTimeout. Timeout or Reject → the chat goes to the next
//     agent; the agent who let it pass is not offered that chat again for
//     Config.RejectCooldown; an agent who lets an offer time out is set NotReady
//     (reason "offer-timeout") unless Config.KeepReadyOnTimeout.
//   - A chat that cannot be offered when it enters the queue waits; its customer gets the
//     service's NoAgentNotice once per wait (a chatcore.SystemNotice; "{position}" and
//     "{wait}" in the text are filled in).
//   - Position returns a chat's queue position and estimated wait (customer, supervisors);
//     Waiting lists a queue; Stats and NewCollector feed /metrics.
//
// # Shape
//
// The agent API (web/agentapi) implements OfferSink (and QueueObserver, which keeps the
// supervisors' wall board current when a queue changes without an offer) and calls Login,
// SetState, Accept and Reject. Accept calls chatcore.Core.Join for the agent itself and returns its result: one
// routing decision is one chatcore operation, and the router sees the outcome from the
// chat's own state. The package imports chatcore; chatcore never imports it.
//
// # Why it is built this way
//
//   - Level-triggered: the router's chatcore listener only marks a chat "to look at"; its
//     loop re-reads the chat (Core.Chat) and derives everything from what the chat says
//     (waiting or not, which agents are in it). A missed or duplicated event cannot leave a
//     chat stuck, and the pending set is bounded by the number of chats.
//   - A restart re-derives: New marks every chat of the core, so chats that were waiting or
//     offered when the node died are waiting again and are offered to the first ready
//     agent (the last agent first). The load of agents is derived from the chats'
//     participants. KV (bucket CHATGATE_ROUTING) keeps only what the chats cannot say: when
//     a chat started to wait (so FIFO order survives a restart), whether its customer got
//     the notice, and the last agent per chat and customer with its time. Writes are
//     coalesced by key and made by one goroutine, off the routing path.
//   - One goroutine (the loop) makes every decision, driven by a wake channel and one
//     Clock timer for the earliest deadline (offer expiry, cooldown end) kept in
//     chatcore/internal/deadline. With chatcore.ManualClock tests are deterministic.
//   - Never calling out under a lock: decisions are made under Router.mu and leave as
//     closures in an outbox; one deliverer at a time runs them after unlocking, so the sink
//     sees Offer before OfferWithdrawn for the same offer and may call back (Accept from
//     Offer is fine). Notices and KV writes go to their own goroutines.
//
// Lock order: Router.mu → persister.mu, Router.mu → noticer.mu. Nothing else is taken
// under Router.mu (no chatcore, sink, clock or KV call).
//
// docs/routing.md lists the rules and the choices made where the specs are silent.
package routing
