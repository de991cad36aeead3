package chatcore

import (
	"maps"
	"sync"
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

type listenerEntry struct{ l Listener }

// AddListener registers l; the returned function removes it.
func (co *Core) AddListener(l Listener) (remove func()) {
	e := &listenerEntry{l: l}
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
	props  map[string]string
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

// queueProps queues a property change if the properties differ from before. c.mu held.
func (co *Core) queueProps(c *chat, beforeState propState) {
	if c.st.propState() == beforeState {
		return
	}
	b := chatState{Async: beforeState.async, AsyncStatus: beforeState.status, CheckAt: beforeState.checkAt, Ended: beforeState.ended}
	before := b.properties(co.node)
	after := c.st.properties(co.node)
	var changed map[string]string
	for k, v := range after {
		if before[k] != v {
			if changed == nil {
				changed = map[string]string{}
			}
			changed[k] = v
		}
	}
	if changed == nil {
		return
	}
	if n := len(c.out); n > 0 && !c.out[n-1].hasV {
		c.out[n-1].props = changed
	} else {
		c.out = append(c.out, delivery{props: changed})
	}
	co.stampViews(c)
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
					if d.props != nil {
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
