package chatcore

// TimersArmed is the number of chats with a deadline armed on this node (idle control, async
// check, flex timeouts: one deadline per chat, the earliest). For the metrics collector in
// web/chatmetrics; it takes only the timer lock, never a chat's lock, so a scrape cannot
// wait behind store I/O.
func (co *Core) TimersArmed() int {
	co.tmu.Lock()
	defer co.tmu.Unlock()
	return co.q.Len()
}
