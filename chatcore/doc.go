// Package chatcore runs chat sessions with the Genesys Chat Server rules for asynchronous
// customer chat: participants, the transcript, options read live, session inactivity
// control (async and regular), flex (protocol) inactivity of the customer, async status
// properties, file transfer limits, restoration after a restart, and session restoration by
// the agent desktop or the workflow (Restore, session-restore-extend-by).
//
// # Shape
//
// Core has one method per operation (CreateChat, SendMessage, Join, Hold, EndChat, ...),
// used by the GMS adapter in web/ and later by agents and the workflow. It imports nothing
// of web, bayeux or push; it defines the small interfaces it needs: Store (satisfied by
// *jetstore.Store as is), Clock, LivenessChecker, OptionSource and Listener.
//
// # Why it is built this way
//
//   - One lock per chat serializes a chat's operations; different chats run in parallel.
//     Store I/O happens under the chat's lock, so an operation's events get consecutive
//     indexes and the per-chat order is the commit order.
//   - The transcript append is the commit point. An operation's events are acknowledged to
//     the caller only after JetStream acknowledged the append; the transcript is appended
//     with the expected last index, so a second writer gets ErrConflict instead of
//     interleaving (the chat is then re-read before its next operation).
//   - The state document may lag the transcript. Everything that follows from events
//     (participants, last activity, idle phase, async status, files) is applied by one
//     function, apply, both live and when a chat is re-read, so a message costs one store
//     write; the document is saved when something that does not follow from events changes
//     (userData, hold, downloads), and at least every 64 events to bound re-reads.
//   - Every committed event leaves through one fan-out path (deliver): per chat in index
//     order, exactly once per commit, outside the chat's lock so listeners may call back.
//   - Deadlines are pure functions of stored timestamps and the current options, so an
//     option change is applied by recomputing (OptionsChanged) and a restart re-arms every
//     chat from its state and fires at once what fell due while the node was down. One heap
//     (internal/deadline) holds one deadline per chat, driven by the injected Clock.
//
// # Bounded by construction
//
// Nothing a client sends can make one chat, or one read, grow without bound: a chat's
// transcript stops at Limits.MaxEvents / MaxTranscriptBytes (ErrTranscriptFull; leaving and
// ending stay possible), each participant's events are rate limited on the Core's clock
// (ErrRateLimited), and the transcript is only ever read one page at a time (EventsPage:
// at most Limits.MaxPageEvents events and MaxPageBytes bytes, Page.Next is the GMS
// nextPosition), by callers and by the Core's own re-reads, so a read's memory is one page
// whatever the transcript's length. The store's own quotas surface as ErrQuota. Ended
// chats leave memory once their end is stored and delivered (release) and are read from
// the store on demand, so memory follows the live chats, not every chat ever held. The
// secureKey is stored only as its SHA-256 and compared as a hash in constant time.
//
// docs/chatcore.md lists the rules as implemented and every choice chatgate made where the
// Genesys material is silent.
package chatcore
