// Package sweep runs the time-driven upkeep of chats that a Genesys deployment leaves to its
// workflow and its reporting stack, built into chatgate so a deployment without a workflow
// still has it (async-chat.md §4, §5, §8; issue 11 items 3 and 4):
//
//   - the stuck strategy: chats whose GCTI_Chat_AsyncCheckAt has passed and that are still
//     live (chatcore.Core.CheckDue) are restored, restored and handed back to routing, or
//     ended (Strategy), as the original's workflow does with its "stuck" interactions;
//   - retention: ended chats are purged (chatcore.Core.Purge: transcript, state document,
//     files and key index entry) once they have been ended for the configured time. With an
//     Exporter (web/feed's Archive, wired by cmd/chatgate for retention-export-dir) a chat
//     is purged only after its export succeeded: a failure keeps it for the next pass, so
//     a broken disk stops deletion rather than losing the only copy.
//
// Why a periodic sweep rather than timers per chat: the check-due list and the ended chats
// are already derived from stored state by chatcore (CheckAt moves with activity, ended chats
// are read from the store), so one pass every Interval on the Core's clock is enough, costs
// nothing while idle, survives restarts without re-arming anything, and is driven by the
// injected chatcore.Clock (the manual clock in tests). The pass is bounded: at most
// MaxPerSweep chats are acted on per kind, the rest wait for the next pass.
//
// The owner (cmd/chatgate) runs Sweeper.Run in a goroutine it stops by cancelling the
// context; Run returns when the pass in progress has finished.
package sweep
