package gmschat

import (
	"errors"
	"sync"
)

// errTooManySessions is the explicit overflow of attachIndex: a chat already has the maximum
// number of attached Bayeux sessions.
var errTooManySessions = errors.New("too many Bayeux sessions attached to the chat")

// attachment binds one Bayeux session to the chat it requested or re-attached to. A session
// is attached to at most one chat; a chat may have several sessions (tabs, devices).
type attachment struct {
	sessionID, chatID, userID, service string
	// secureKey authenticates protocol-activity touches on the customer's behalf; never logged.
	secureKey string

	// mu orders pushes to this session: the replay of requestNotifications and live events
	// of the chat listener both go through deliver, so a live event that raced the replay is
	// neither lost nor sent twice.
	mu        sync.Mutex
	delivered int64 // highest transcript index pushed to the session
}

// pushHeld pushes while the caller holds mu (between attach and release) and records index.
func (a *attachment) pushHeld(index int64, push func() error) error {
	if err := push(); err != nil {
		return err
	}
	if index > a.delivered {
		a.delivered = index
	}
	return nil
}

// answer pushes the direct answer to a request of the session: always (the client asked for
// these events, a refresh paging back included), recording index so that live events it
// covered are not sent again.
func (a *attachment) answer(index int64, push func() error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pushHeld(index, push)
}

// release ends the exclusive phase started by attach.
func (a *attachment) release() { a.mu.Unlock() }

// deliver calls push if index is beyond what the session already received, and records it.
// index 0 (answers without events) always pushes.
func (a *attachment) deliver(index int64, push func() error) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if index != 0 && index <= a.delivered {
		return false, nil
	}
	if err := push(); err != nil {
		return false, err
	}
	if index > a.delivered {
		a.delivered = index
	}
	return true, nil
}

// attachIndex is the chatId → attached sessions index, with the reverse map for detaching on
// session removal. Safe for concurrent use.
//
// Lock order: attachIndex.mu and attachment.mu are never waited for while the other is
// held. The index lock is held only for map work: attach locks an attachment under it only
// when that attachment is brand new (no other goroutine can hold it, so the lock cannot
// wait), and it locks an existing attachment only after releasing the index lock. A holder
// of an attachment lock pushes to its session but never calls into the index: a failed push
// releases the attachment first and detaches after (see Adapter.attachAndPush). Issue 7
// item 1 was the inversion of this order, which froze every chat operation.
type attachIndex struct {
	maxPerChat int

	mu        sync.RWMutex
	bySession map[string]*attachment
	byChat    map[string]map[string]*attachment
}

func newAttachIndex(maxPerChat int) *attachIndex {
	if maxPerChat <= 0 {
		maxPerChat = 16
	}
	return &attachIndex{maxPerChat: maxPerChat, bySession: map[string]*attachment{}, byChat: map[string]map[string]*attachment{}}
}

// attach binds sessionID to chatID (moving it if it was attached to another chat). delivered is
// the highest index the session is known to have received (0 = none).
//
// The attachment is returned with its mu held, and the caller must call release after pushing
// the answer (and, for requestNotifications, the replay): live events that arrive between
// attach and release wait instead of overtaking the replay, and are then pushed only if their
// index is beyond what the replay covered.
func (x *attachIndex) attach(sessionID, chatID, userID, service, secureKey string, delivered int64) (*attachment, error) {
	x.mu.Lock()
	if old, ok := x.bySession[sessionID]; ok {
		if old.chatID == chatID {
			x.mu.Unlock()
			// Outside the index lock: old may be held by a push of this session.
			old.mu.Lock()
			return old, nil
		}
		x.removeLocked(old)
	}
	set := x.byChat[chatID]
	if len(set) >= x.maxPerChat {
		x.mu.Unlock()
		return nil, errTooManySessions
	}
	if set == nil {
		set = map[string]*attachment{}
		x.byChat[chatID] = set
	}
	a := &attachment{sessionID: sessionID, chatID: chatID, userID: userID, service: service, secureKey: secureKey, delivered: delivered}
	// Locked before it becomes visible, so no live event overtakes the answer; a new
	// mutex never makes this wait.
	a.mu.Lock()
	set[sessionID] = a
	x.bySession[sessionID] = a
	x.mu.Unlock()
	return a, nil
}

// detach removes the session's attachment, if any, and returns it.
func (x *attachIndex) detach(sessionID string) (*attachment, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	a, ok := x.bySession[sessionID]
	if ok {
		x.removeLocked(a)
	}
	return a, ok
}

func (x *attachIndex) removeLocked(a *attachment) {
	delete(x.bySession, a.sessionID)
	if set := x.byChat[a.chatID]; set != nil {
		delete(set, a.sessionID)
		if len(set) == 0 {
			delete(x.byChat, a.chatID)
		}
	}
}

// session returns the attachment of a session.
func (x *attachIndex) session(sessionID string) (*attachment, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	a, ok := x.bySession[sessionID]
	return a, ok
}

// chat returns a snapshot of the sessions attached to a chat.
func (x *attachIndex) chat(chatID string) []*attachment {
	x.mu.RLock()
	defer x.mu.RUnlock()
	set := x.byChat[chatID]
	out := make([]*attachment, 0, len(set))
	for _, a := range set {
		out = append(out, a)
	}
	return out
}

// connected reports whether userID has an attached session in chatID for which live says the
// session is connected now.
func (x *attachIndex) connected(chatID, userID string, live func(sessionID string) bool) bool {
	for _, a := range x.chat(chatID) {
		if a.userID == userID && live(a.sessionID) {
			return true
		}
	}
	return false
}

// len is the number of attached sessions.
func (x *attachIndex) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.bySession)
}
