package sessions

import (
	"sync"

	"github.com/onepam/onepam/pkg/api"
)

// Event is a change of a session, published to subscribers (the API's
// GET /v1/sessions/stream, server-sent events for the web console). With
// an EventRelay (relay.go: several control nodes on one PostgreSQL
// database) subscribers get the events of every node's sessions, not only
// of those this node carries.
type Event struct {
	// Kind is "created" (a new pending session), "changed" (it became
	// active) or "ended" (it reached a terminal state).
	Kind    string      `json:"kind"`
	Session api.Session `json:"session"` // the session after the change
}

// The event kinds.
const (
	EventKindCreated = "created"
	EventKindChanged = "changed"
	EventKindEnded   = "ended"
)

// subscriberBuffer is how many events a subscriber may lag behind; a
// subscriber further behind is dropped (its channel closed) so that a slow
// reader never holds up a session.
const subscriberBuffer = 256

// hub fans session events out to subscribers and, when an EventRelay is
// installed, queues this node's events for the other nodes.
type hub struct {
	mu     sync.Mutex
	subs   map[chan Event]struct{}
	closed bool
	// out is the EventRelay's queue of this node's events (nil: none);
	// lost is set when it was full and an event was not queued.
	out  chan Event
	lost bool
}

// Subscribe returns a channel of session events and a function that ends
// the subscription. The channel is closed when the subscriber falls too
// far behind, when the EventRelay may have missed other nodes' events
// (its connection to the database was lost), or when the manager shuts
// down; subscribe again (and reload what may have been missed) in the
// first two cases.
func (m *Manager) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, subscriberBuffer)
	h := &m.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	if h.subs == nil {
		h.subs = map[chan Event]struct{}{}
	}
	h.subs[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// publish sends an event of a session this node carries to every
// subscriber, and to the EventRelay's queue, without blocking.
func (m *Manager) publish(kind string, s api.Session) {
	h := &m.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	ev := Event{Kind: kind, Session: s}
	h.fanout(ev)
	if h.out != nil {
		select {
		case h.out <- ev:
		default:
			if !h.lost {
				m.cfg.Logger.Warn("session events: the queue to the other control nodes is full; they are told to reload", "session_id", s.ID, "kind", kind)
			}
			h.lost = true
		}
	}
}

// deliver sends an event of another node's session to every subscriber
// without blocking (relay.go).
func (m *Manager) deliver(ev Event) {
	h := &m.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fanout(ev)
}

// fanout sends ev to every subscriber, dropping those too far behind.
// h.mu is held.
func (h *hub) fanout(ev Event) {
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// resync ends every subscription, as for subscribers too far behind:
// events may have been missed, and they subscribe again and reload.
func (m *Manager) resync() {
	h := &m.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}

// markLost notes that events were lost (relay.go).
func (h *hub) markLost() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lost = true
}

// takeLost reports whether events were lost since the last call (the
// relay's queue was full), and clears it.
func (h *hub) takeLost() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	lost := h.lost
	h.lost = false
	return lost
}

// closeSubscribers ends every subscription (shutdown).
func (m *Manager) closeSubscribers() {
	h := &m.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}
