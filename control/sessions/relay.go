package sessions

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// Several control nodes on one PostgreSQL database each carry their own
// sessions, and a person's browser may reach any of them. An EventRelay
// makes the session events (created, changed, ended) cluster-wide: each
// node sends its own sessions' events as notices (notice.go) on one
// channel of the database (Notifier: NOTIFY), and listens on that channel
// on a connection of its own (LISTEN), handing the other nodes' events to
// its subscribers (its own it has from publish). When the listening
// connection is lost the relay reconnects with backoff, and once it
// listens again ends every subscription (resync): events sent meanwhile
// were missed, and subscribers subscribe again and reload. On SQLite
// (one node) there is no relay.

// Notifier carries short text notifications between the control nodes
// sharing a database: PostgreSQL's NOTIFY and LISTEN (store/postgres).
type Notifier interface {
	// Notify sends payload on channel to every node listening on it, this
	// one included.
	Notify(ctx context.Context, channel, payload string) error
	// Listen listens on channel on a connection of its own: once it
	// listens it calls ready with the connection's server process id,
	// then handle with each payload, in the order they were sent, until
	// ctx ends (it returns ctx.Err()) or the connection fails (the
	// error). The connection is closed when Listen returns.
	Listen(ctx context.Context, channel string, ready func(pid uint32), handle func(payload string)) error
}

// RelayConfig configures an EventRelay. Notifier is required.
type RelayConfig struct {
	Notifier Notifier
	// Channel is the notification channel every node uses (default
	// DefaultRelayChannel).
	Channel string
	// Queue is how many of this node's events may wait to be sent
	// (default DefaultRelayQueue); when it is full an event is not sent
	// and the other nodes are told to resync.
	Queue int
	// Timeout bounds sending one notice, and reading a session whose
	// notice came without it (default DefaultRelayTimeout).
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before listening again
	// after the connection was lost: it doubles from MinBackoff up to
	// MaxBackoff, and starts again from MinBackoff once listening
	// (defaults DefaultRelayMinBackoff, DefaultRelayMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// Logger defaults to the manager's.
	Logger *slog.Logger
	// After is the clock of the backoff (default time.After).
	After func(time.Duration) <-chan time.Time
}

// RelayConfig defaults.
const (
	DefaultRelayChannel    = "onepam_session_events"
	DefaultRelayQueue      = 1024
	DefaultRelayTimeout    = 5 * time.Second
	DefaultRelayMinBackoff = 100 * time.Millisecond
	DefaultRelayMaxBackoff = 10 * time.Second
)

func (c RelayConfig) withDefaults(m *Manager) RelayConfig {
	if c.Channel == "" {
		c.Channel = DefaultRelayChannel
	}
	if c.Queue <= 0 {
		c.Queue = DefaultRelayQueue
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultRelayTimeout
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultRelayMinBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(DefaultRelayMaxBackoff, c.MinBackoff)
	}
	if c.Logger == nil {
		c.Logger = m.cfg.Logger
	}
	if c.After == nil {
		c.After = time.After
	}
	return c
}

// RelayStatus is what an EventRelay is doing.
type RelayStatus struct {
	// Listening: the relay listens for the other nodes' events now.
	Listening bool
	// PID is the server process id of the listening connection (the
	// last one when not listening; pg_stat_activity.pid).
	PID uint32
	// Listens counts how many times listening began.
	Listens int
	// Dropped counts the malformed notices received and dropped.
	Dropped int
}

// EventRelay sends this node's session events to the other control nodes
// sharing the database and hands theirs to this node's subscribers.
type EventRelay struct {
	m   *Manager
	cfg RelayConfig
	out chan Event

	mu     sync.Mutex
	status RelayStatus
}

// NewEventRelay returns the relay of m's events. From now on m queues
// its events for it; call Run to send them and to listen. A manager has
// at most one relay.
func (m *Manager) NewEventRelay(cfg RelayConfig) (*EventRelay, error) {
	if cfg.Notifier == nil {
		return nil, errors.New("sessions: RelayConfig.Notifier is required")
	}
	cfg = cfg.withDefaults(m)
	r := &EventRelay{m: m, cfg: cfg, out: make(chan Event, cfg.Queue)}
	h := &m.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.out != nil {
		return nil, errors.New("sessions: the manager has an event relay already")
	}
	h.out = r.out
	return r, nil
}

// Status returns what the relay is doing.
func (r *EventRelay) Status() RelayStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Run sends this node's events and listens for the other nodes' until ctx
// ends; then it sends what is still queued (within Timeout) and returns.
func (r *EventRelay) Run(ctx context.Context) error {
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		r.sendLoop(ctx)
	}()
	r.listenLoop(ctx)
	<-sent
	return nil
}

// sendLoop sends the queued events in order, then a resync notice when
// events were lost (the queue was full, or a notice could not be sent).
func (r *EventRelay) sendLoop(ctx context.Context) {
	warned := false
	for {
		select {
		case <-ctx.Done():
			r.drain()
			return
		case ev := <-r.out:
			if err := r.send(ctx, ev); err != nil {
				if !warned {
					r.cfg.Logger.Warn("session events: could not send an event to the other control nodes; they will be told to reload", "session_id", ev.Session.ID, "kind", ev.Kind, "err", err)
				}
				warned = true
				r.m.hub.markLost()
			}
		}
		if r.m.hub.takeLost() {
			if err := r.send(ctx, Event{Kind: noticeKindResync}); err != nil {
				r.m.hub.markLost() // told after the next event
				continue
			}
			warned = false
		}
	}
}

// drain sends the events still queued at shutdown (the sessions that
// ended last), within Timeout.
func (r *EventRelay) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	h := &r.m.hub
	h.mu.Lock()
	if h.out == r.out {
		h.out = nil
	}
	h.mu.Unlock()
	for {
		select {
		case ev := <-r.out:
			if err := r.send(ctx, ev); err != nil {
				r.cfg.Logger.Warn("session events: could not send the last events to the other control nodes", "err", err)
				return
			}
		default:
			return
		}
	}
}

// send sends one notice: ev with its session's live byte counts.
func (r *EventRelay) send(ctx context.Context, ev Event) error {
	if ev.Kind != noticeKindResync {
		r.m.Overlay(&ev.Session)
	}
	payload, err := encodeNotice(r.m.cfg.Node.ID, ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	return r.cfg.Notifier.Notify(ctx, r.cfg.Channel, payload)
}

// listenLoop listens until ctx ends, again after a backoff when the
// connection is lost.
func (r *EventRelay) listenLoop(ctx context.Context) {
	backoff := r.cfg.MinBackoff
	for {
		listened := false
		err := r.cfg.Notifier.Listen(ctx, r.cfg.Channel, func(pid uint32) {
			listened = true
			r.mu.Lock()
			r.status.Listening, r.status.PID = true, pid
			r.status.Listens++
			n := r.status.Listens
			r.mu.Unlock()
			if n == 1 {
				r.cfg.Logger.Info("session events: listening for the other control nodes' events", "channel", r.cfg.Channel, "pid", pid)
			} else {
				r.cfg.Logger.Info("session events: listening again; subscribers reload what they missed", "channel", r.cfg.Channel, "pid", pid)
			}
			// Events sent while nobody listened (before the first time,
			// or while the connection was down) were missed.
			r.m.resync()
		}, func(payload string) { r.handle(ctx, payload) })
		r.mu.Lock()
		r.status.Listening = false
		r.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if listened {
			backoff = r.cfg.MinBackoff
		}
		r.cfg.Logger.Warn("session events: the listening connection to the database was lost; listening again", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-r.cfg.After(backoff):
		}
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
}

// handle hands one received notice to the subscribers: another node's
// event (its session read from the database when the notice came without
// it) or a resync. A malformed notice is dropped and logged; this node's
// own are skipped (publish gave them to the subscribers).
func (r *EventRelay) handle(ctx context.Context, payload string) {
	n, err := decodeNotice(payload)
	if err != nil {
		r.mu.Lock()
		r.status.Dropped++
		r.mu.Unlock()
		r.cfg.Logger.Warn("session events: dropped a malformed notice from the database", "channel", r.cfg.Channel, "bytes", len(payload), "err", err)
		return
	}
	if n.Node == r.m.cfg.Node.ID {
		return
	}
	if n.Kind == noticeKindResync {
		r.cfg.Logger.Info("session events: another control node lost events; subscribers reload", "from_node", n.Node)
		r.m.resync()
		return
	}
	var s api.Session
	if n.Session != nil {
		s = *n.Session
	} else {
		rctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		s, err = r.m.cfg.Store.GetSession(rctx, n.ID)
		cancel()
		if err != nil {
			r.cfg.Logger.Warn("session events: could not read the session of another node's event; subscribers reload", "session_id", n.ID, "from_node", n.Node, "err", err)
			r.m.resync()
			return
		}
	}
	r.m.deliver(Event{Kind: n.Kind, Session: s})
}
