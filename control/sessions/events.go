package sessions

import (
	"sync"

	"github.com/onepam/onepam/pkg/api"
)

// Event is a change of a session, published to subscribers (the API's
// GET /v1/sessions/stream, server-sent events for the web console).
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

// hub fans session events out to subscribers.
type hub struct {
	mu     sync.Mutex
	subs   map[chan Event]struct{}
	closed bool
}

// Subscribe returns a channel of session events and a function that ends
// the subscription. The channel is closed when the subscriber falls too
// far behind or the manager shuts down; subscribe again (and reload what
// may have been missed) in the first case.
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

// publish sends an event to every subscriber without blocking.
func (m *Manager) publish(kind string, s api.Session) {
	h := &m.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- Event{Kind: kind, Session: s}:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
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
