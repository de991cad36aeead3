package chatcore

import (
	"maps"
	"sync"
	"time"
)

// Listener receives every committed event and every change of the interaction properties
// the core maintains, through one fan-out path: per chat in index order, each commit exactly
// once, after the store acknowledged it. Calls for one chat never overlap; calls for
// different chats may run concurrently. A listener must not block for long (it delays the
// chat's later deliveries); it may call the Core, including operations on the same chat
// (their events are then delivered after the current call returns).
type Listener interface {
	// OnEvent is called once per committed event. chat is the chat as of the commit that
	// produced the event.
	OnEvent(chat ChatView, ev Event)
	// OnProperties is called when GCTI_Chat_AsyncStatus, GCTI_Chat_AsyncCheckAt, IsOnline or
	// ChatServerAppName change; changed holds the new values of the changed properties only.
	OnProperties(chat ChatView, changed map[string]string)
}

// ValueChange is one value's change: Old before (OldSet false: the key was absent), New
// after (NewSet false: the key is gone).
type ValueChange struct {
	Old, New       string
	OldSet, NewSet bool
}

// Change is what one commit changed of a chat's interaction properties and of its userData.
type Change struct {
	// Properties are the maintained properties that changed (GCTI_Chat_AsyncStatus,
	// GCTI_Chat_AsyncCheckAt, IsOnline, ChatServerAppName).
	Properties map[string]ValueChange
	// UserData are the userData keys that changed.
	UserData map[string]ValueChange
}

func (c Change) clone() Change {
	return Change{Properties: maps.Clone(c.Properties), UserData: maps.Clone(c.UserData)}
}

// ChangeListener is an optional extension of Listener for a record of every change, such
// as the event feed. A listener that implements it gets OnChange in place of OnProperties:
// the properties' values before and after, and the changes of the chat's userData —
// including those of operations that add no event (UpdateUserData, Annotate), which
// OnProperties never reports. Same guarantees as Listener: per chat in commit order, after
// the commit's events, once per commit.
type ChangeListener interface {
	OnChange(chat ChatView, ch Change)
}

// PurgeListener is an optional extension of Listener: OnPurged is called once a chat was
// purged (Purge), with the chat as it was just before and the core's clock at the purge,
// after every delivery of the chat.
type PurgeListener interface {
	OnPurged(chat ChatView, at time.Time)
}

// ListenerFuncs adapts functions to Listener; nil fields are skipped.
type ListenerFuncs struct {
	Event      func(chat ChatView, ev Event)
	Properties func(chat ChatView, changed map[string]string)
}

// OnEvent calls f.Event.
func (f ListenerFuncs) OnEvent(chat ChatView, ev Event) {
	if f.Event != nil {
		f.Event(chat, ev)
	}
}

// OnProperties calls f.Properties.
func (f ListenerFuncs) OnProperties(chat ChatView, changed map[string]string) {
	if f.Properties != nil {
		f.Properties(chat, changed)
	}
}

type listenerEntry struct {
	l  Listener
	cl ChangeListener // l, when it implements ChangeListener
	pl PurgeListener  // l, when it implements PurgeListener
}

// AddListener registers l; the returned function removes it.
func (co *Core) AddListener(l Listener) (remove func()) {
	e := &listenerEntry{l: l}
	e.cl, _ = l.(ChangeListener)
	e.pl, _ = l.(PurgeListener)
	co.lmu.Lock()
	co.listeners = append(co.listeners, e)
	co.lmu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			co.lmu.Lock()
			defer co.lmu.Unlock()
			for i, x := range co.listeners {
				if x == e {
					co.listeners = append(co.listeners[:i:i], co.listeners[i+1:]...)
					return
				}
			}
		})
	}
}

// delivery is one commit waiting for fan-out.
type delivery struct {
	view   ChatView
	events []Event
	props  map[string]string // new values of the changed properties (OnProperties)
	change *Change           // old and new, userData included (OnChange)
	hasV   bool
}

// propState is what the maintained properties depend on.
type propState struct {
	async   bool
	status  int
	checkAt int64
	ended   bool
}

func (st *chatState) propState() propState {
	return propState{async: st.Async, status: st.AsyncStatus, checkAt: st.CheckAt, ended: st.Ended}
}

// queueProps queues a change of the properties or of the userData since before /
// beforeUD, if there is one. c.mu held.
func (co *Core) queueProps(c *chat, beforeState propState, beforeUD map[string]string) {
	var changed map[string]string
	ch := Change{UserData: valueChanges(beforeUD, c.st.UserData)}
	if c.st.propState() != beforeState {
		b := chatState{Async: beforeState.async, AsyncStatus: beforeState.status, CheckAt: beforeState.checkAt, Ended: beforeState.ended}
		before := b.properties(co.node)
		after := c.st.properties(co.node)
		ch.Properties = valueChanges(before, after)
		for k, vc := range ch.Properties {
			if vc.NewSet {
				if changed == nil {
					changed = map[string]string{}
				}
				changed[k] = vc.New
			}
		}
	}
	if changed == nil && ch.Properties == nil && ch.UserData == nil {
		return
	}
	if n := len(c.out); n > 0 && !c.out[n-1].hasV {
		c.out[n-1].props, c.out[n-1].change = changed, &ch
	} else {
		c.out = append(c.out, delivery{props: changed, change: &ch})
	}
	co.stampViews(c)
}

// valueChanges lists the keys whose value differs between before and after (nil: none).
// userData is small (chat-max-userdata-keys), so comparing it at each commit is cheap next
// to the store write.
func valueChanges(before, after map[string]string) map[string]ValueChange {
	var out map[string]ValueChange
	add := func(k string, vc ValueChange) {
		if out == nil {
			out = map[string]ValueChange{}
		}
		out[k] = vc
	}
	for k, v := range after {
		if old, ok := before[k]; !ok || old != v {
			add(k, ValueChange{Old: old, OldSet: ok, New: v, NewSet: true})
		}
	}
	for k, old := range before {
		if _, ok := after[k]; !ok {
			add(k, ValueChange{Old: old, OldSet: true})
		}
	}
	return out
}

// stampViews gives the queued deliveries that have none the chat's current view. c.mu held.
func (co *Core) stampViews(c *chat) {
	var v *ChatView
	for i := range c.out {
		if !c.out[i].hasV {
			if v == nil {
				x := c.st.view(co.node)
				v = &x
			}
			c.out[i].view, c.out[i].hasV = *v, true
		}
	}
}

// deliver hands the chat's queued commits to the listeners, in order. Only one goroutine
// delivers a chat at a time; one that finds delivery busy leaves its commits to the
// goroutine delivering, which loops until the queue is empty.
func (co *Core) deliver(c *chat) {
	for {
		if !c.dmu.TryLock() {
			return
		}
		for {
			c.mu.Lock()
			co.stampViews(c)
			batch := c.out
			c.out = nil
			c.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			co.lmu.RLock()
			ls := co.listeners
			co.lmu.RUnlock()
			for _, d := range batch {
				for _, l := range ls {
					for _, ev := range d.events {
						l.l.OnEvent(d.view, ev)
					}
					switch {
					case l.cl != nil:
						if d.change != nil {
							l.cl.OnChange(d.view, d.change.clone())
						}
					case d.props != nil:
						l.l.OnProperties(d.view, maps.Clone(d.props))
					}
				}
			}
		}
		c.dmu.Unlock()
		c.mu.Lock()
		more := len(c.out) > 0
		c.mu.Unlock()
		if !more {
			return
		}
	}
}
