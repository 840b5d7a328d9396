package sessions

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/policy"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Manager runs the sessions of one control server.
type Manager struct {
	cfg Config

	closing atomic.Bool

	mu   sync.Mutex
	live map[string]*live
	// changed is closed and replaced whenever a session leaves the
	// registry (Shutdown waits on it).
	changed chan struct{}
	// ended holds the final byte counters of sessions that left the
	// registry lately (ended.go).
	ended endedLog

	hub hub // session event subscribers (events.go)
}

// New returns a manager. Call Run to start its reaper and flusher.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Gateway == nil {
		return nil, errors.New("sessions: Config.Store and Config.Gateway are required")
	}
	return &Manager{cfg: cfg.withDefaults(), live: map[string]*live{}, changed: make(chan struct{})}, nil
}

// Run reaps pending sessions that were never attached and flushes byte
// counters until ctx is done; meanwhile it keeps the node's row alive and
// sweeps the sessions of stopped nodes (nodes.go).
func (m *Manager) Run(ctx context.Context) error {
	nodeDone := make(chan struct{})
	go func() {
		defer close(nodeDone)
		m.runNode(ctx)
	}()
	defer func() { <-nodeDone }()
	reapEvery := min(max(m.cfg.PendingTimeout/4, 10*time.Millisecond), 5*time.Second)
	reap := time.NewTicker(reapEvery)
	defer reap.Stop()
	flush := time.NewTicker(m.cfg.FlushInterval)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reap.C:
			m.reap()
		case <-flush.C:
			for _, l := range m.snapshot() {
				m.flush(l)
			}
		}
	}
}

// RecoverInterrupted fails, at start, the sessions that no live control
// node carries: those a previous run of this node left pending or active
// ("interrupted: control restarted"), those of nodes that stopped
// ("interrupted: control node X stopped") and rows from before nodes were
// recorded. The sessions of other live nodes sharing the database are
// left alone. It is Sweep, which Run repeats every Node.SweepInterval;
// call it before serving.
func (m *Manager) RecoverInterrupted(ctx context.Context) (int, error) {
	return m.Sweep(ctx)
}

func (m *Manager) now() time.Time { return m.cfg.Clock().UTC() }

func (m *Manager) get(id string) *live {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.live[id]
}

func (m *Manager) snapshot() []*live {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*live, 0, len(m.live))
	for _, l := range m.live {
		out = append(out, l)
	}
	return out
}

func (m *Manager) unregister(l *live) {
	m.mu.Lock()
	delete(m.live, l.id)
	m.ended.add(l.id, endedCounts{up: l.up.Load(), down: l.down.Load(), at: m.now()})
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

// Running returns the number of sessions in the registry.
func (m *Manager) Running() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.live)
}

func (m *Manager) audit(ctx context.Context, e api.AuditEvent) {
	e.ID = store.NewID()
	e.Time = m.now()
	if err := m.cfg.Store.AddAudit(ctx, e); err != nil {
		m.cfg.Logger.Error("write audit event", "action", e.Action, "target", e.Target, "err", err)
	}
}

// Create authorises p to connect to the resource of req and inserts a
// pending session carried by this node. Denials are *api.Error
// (forbidden, not found, target_failed when the agent is offline,
// other_node when it is attached to another live control node,
// unavailable when shutting down).
func (m *Manager) Create(ctx context.Context, p auth.Principal, req api.CreateSessionRequest, clientIP string) (api.Session, error) {
	if m.closing.Load() {
		return api.Session{}, api.Errorf(api.CodeUnavailable, "control server is shutting down: try again in a moment")
	}
	if req.Resource == "" {
		return api.Session{}, api.Errorf(api.CodeInvalid, "resource is required")
	}
	deny := func(reason string) error {
		m.audit(ctx, api.AuditEvent{Actor: p.User, Action: "session.denied", Target: req.Resource, Outcome: api.OutcomeDenied,
			Detail: reason, ClientIP: clientIP, Fields: map[string]string{"login": req.Login, "database": req.Database}})
		m.cfg.Logger.Info("session denied", "user", p.User, "resource", req.Resource, "login", req.Login, "reason", reason)
		return api.Errorf(api.CodeForbidden, "%s", reason)
	}
	if err := auth.Check(p, auth.SessionsConnect, p.User); err != nil {
		return api.Session{}, deny(fmt.Sprintf("role %s of user %q may not connect to resources", p.Role, p.User))
	}
	res, err := m.cfg.Store.GetResource(ctx, req.Resource)
	if errors.Is(err, store.ErrNotFound) {
		return api.Session{}, api.Errorf(api.CodeNotFound, "resource %q not found: list resources with onepam resources ls", req.Resource)
	}
	if err != nil {
		return api.Session{}, fmt.Errorf("look up resource %q: %w", req.Resource, err)
	}
	rules, err := m.cfg.Store.ListPolicyRules(ctx)
	if err != nil {
		return api.Session{}, fmt.Errorf("read policy: %w", err)
	}
	if ok, reason := policy.Allowed(rules, p, res.Resource, policy.Access{Login: req.Login, Database: req.Database}); !ok {
		return api.Session{}, deny(reason)
	}
	if !m.cfg.Gateway.Online(res.AgentID) {
		if err := m.agentElsewhere(ctx, res); err != nil {
			return api.Session{}, err
		}
		return api.Session{}, api.Errorf(api.CodeTargetFailed, "agent %q serving resource %q is offline: check it with onepam agents ls", res.Agent, res.Name)
	}
	now := m.now()
	s := api.Session{
		ID:        store.NewID(),
		User:      p.User,
		Type:      res.Type,
		Status:    api.StatusPending,
		Resource:  res.Name,
		Agent:     res.Agent,
		NodeID:    m.cfg.Node.ID,
		Login:     req.Login,
		ClientIP:  clientIP,
		CreatedAt: now,
		Recording: api.Recording{Format: api.RecordingFormatFor(res.Type), State: api.RecordingNone},
	}
	l := newLive(m, s, res.AgentID)
	l.database = req.Database
	// Register before inserting so that RecoverInterrupted or a kill never
	// sees a row without its live entry.
	m.mu.Lock()
	m.live[s.ID] = l
	m.mu.Unlock()
	if err := m.cfg.Store.CreateSession(ctx, s); err != nil {
		m.unregister(l)
		return api.Session{}, fmt.Errorf("create session: %w", err)
	}
	s.Timeline = []api.TimelineEvent{{Time: now, Event: api.EventCreated, Status: api.StatusPending}}
	m.cfg.Metrics.SessionCreated(s.Type)
	m.audit(ctx, api.AuditEvent{Actor: p.User, Action: "session.create", Target: s.ID, Outcome: api.OutcomeSuccess, ClientIP: clientIP,
		Fields: map[string]string{"resource": s.Resource, "type": string(s.Type), "login": s.Login}})
	m.cfg.Logger.Info("session created", "session_id", s.ID, "user", s.User, "resource", s.Resource, "type", s.Type, "login", s.Login)
	m.publish(EventKindCreated, s)
	return s, nil
}

// Kill terminates a pending or active session on behalf of p (admins
// only): the status becomes terminated with p and reason, a notice goes to
// the events channel, and every connection of the session is closed.
func (m *Manager) Kill(ctx context.Context, p auth.Principal, id, reason, clientIP string) (api.Session, error) {
	if err := auth.Check(p, auth.SessionsKill, ""); err != nil {
		m.audit(ctx, api.AuditEvent{Actor: p.User, Action: "session.kill", Target: id, Outcome: api.OutcomeDenied, Detail: err.Error(), ClientIP: clientIP})
		return api.Session{}, err
	}
	msg := fmt.Sprintf("session terminated by an administrator (%s)", p.User)
	if reason != "" {
		msg += ": " + reason
	}
	var (
		s   api.Session
		err error
	)
	if l := m.get(id); l != nil {
		s, err = m.finish(l, store.Transition{To: api.StatusTerminated, Actor: p.User, Detail: reason}, msg)
	} else {
		s, err = m.cfg.Store.GetSession(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid):
			err = api.Errorf(api.CodeNotFound, "session %s not found", id)
		case err != nil:
			err = fmt.Errorf("get session %s: %w", id, err)
		case s.Status.Terminal():
			err = endedError(s.ID, s.Status, s.Error)
		default:
			// A row this process does not run (left by another process).
			s, err = m.transition(ctx, id, store.Transition{To: api.StatusTerminated, Actor: p.User, Detail: reason})
			if err == nil {
				m.publish(EventKindEnded, s)
			}
		}
	}
	if err != nil {
		m.audit(ctx, api.AuditEvent{Actor: p.User, Action: "session.kill", Target: id, Outcome: api.OutcomeError, Detail: err.Error(), ClientIP: clientIP})
		return api.Session{}, err
	}
	m.audit(ctx, api.AuditEvent{Actor: p.User, Action: "session.kill", Target: id, Outcome: api.OutcomeSuccess, Detail: reason, ClientIP: clientIP})
	m.Overlay(&s)
	return s, nil
}

// transition applies a status change, mapping illegal moves to a conflict.
func (m *Manager) transition(ctx context.Context, id string, t store.Transition) (api.Session, error) {
	if t.At.IsZero() {
		t.At = m.now()
	}
	s, err := m.cfg.Store.Transition(ctx, id, t)
	if errors.Is(err, api.ErrIllegalTransition) {
		cur, gerr := m.cfg.Store.GetSession(ctx, id)
		if gerr == nil && cur.Status.Terminal() {
			return api.Session{}, endedError(id, cur.Status, cur.Error)
		}
		return api.Session{}, api.Errorf(api.CodeConflict, "session %s: %v", id, err)
	}
	if err != nil {
		return api.Session{}, fmt.Errorf("session %s → %s: %w", id, t.To, err)
	}
	return s, nil
}

// endedError describes a session that already reached a terminal state.
func endedError(id string, st api.SessionStatus, errText string) error {
	switch st {
	case api.StatusTerminated:
		return api.Errorf(api.CodeTerminated, "session %s was terminated by an administrator", id)
	case api.StatusFailed:
		if errText != "" {
			return api.Errorf(api.CodeConflict, "session %s already ended (failed: %s)", id, errText)
		}
	}
	return api.Errorf(api.CodeConflict, "session %s already ended (%s)", id, st)
}

// Overlay fills a session's live byte counters and its duration at now.
// Counters only grow, so s keeps the larger of its own and the live (or
// lately ended) ones: a row read just before the session's final flush
// still shows its final counts when the overlay comes after the session
// left the registry.
func (m *Manager) Overlay(s *api.Session) {
	m.mu.Lock()
	l := m.live[s.ID]
	c, ended := m.ended.get(s.ID)
	m.mu.Unlock()
	if l != nil {
		c, ended = endedCounts{up: l.up.Load(), down: l.down.Load()}, true
	}
	if ended {
		s.BytesUp = max(s.BytesUp, c.up)
		s.BytesDown = max(s.BytesDown, c.down)
	}
	s.DurationSeconds = s.Duration(m.now()).Seconds()
}

// AgentOffline fails the running sessions served by an agent whose link
// went down.
func (m *Manager) AgentOffline(agentID string) {
	for _, l := range m.snapshot() {
		if l.agentID != agentID {
			continue
		}
		l.mu.Lock()
		started := l.leadClaimed
		l.mu.Unlock()
		if started {
			m.finish(l, store.Transition{To: api.StatusFailed, Detail: errAgentLost}, "")
		}
	}
}

func (m *Manager) reap() {
	limit := m.now().Add(-m.cfg.PendingTimeout)
	for _, l := range m.snapshot() {
		l.mu.Lock()
		stale := !l.leadClaimed && !l.ended && l.createdAt.Before(limit)
		l.mu.Unlock()
		if stale {
			m.cfg.Logger.Info("pending session never connected", "session_id", l.id)
			m.finish(l, store.Transition{To: api.StatusFailed, Detail: "never connected"}, "")
		}
	}
}

// flush writes a session's unflushed byte counts to the store and metrics.
func (m *Manager) flush(l *live) {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	up, down := l.up.Load(), l.down.Load()
	du, dd := up-l.flushedUp, down-l.flushedDown
	if du == 0 && dd == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.cfg.Store.AddSessionBytes(ctx, l.id, du, dd); err != nil {
		m.cfg.Logger.Error("write session byte counts", "session_id", l.id, "err", err)
		return
	}
	l.flushedUp, l.flushedDown = up, down
	m.cfg.Metrics.AddBytes(du, dd)
}

// Shutdown refuses new sessions, tells running ones on their events
// channel, gives them until grace to end, then fails the rest ("control
// shut down"). It returns when every session left the registry (or after a
// bounded wait for their teardown).
func (m *Manager) Shutdown(grace time.Duration) {
	m.closing.Store(true)
	m.closeSubscribers()
	notice := api.SessionEvent{Time: m.now(), Message: fmt.Sprintf("control server shutting down: the session ends within %s", grace)}
	for _, l := range m.snapshot() {
		l.mu.Lock()
		claimed := l.leadClaimed
		notice.Status = l.status
		l.mu.Unlock()
		if !claimed {
			m.finish(l, store.Transition{To: api.StatusFailed, Detail: "control shut down"}, "")
			continue
		}
		l.sendEvent(notice)
	}
	m.waitEmpty(grace)
	for _, l := range m.snapshot() {
		m.finish(l, store.Transition{To: api.StatusFailed, Detail: "control shut down"}, "control shut down")
	}
	m.waitEmpty(teardownWait)
}

func (m *Manager) waitEmpty(d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		m.mu.Lock()
		n, ch := len(m.live), m.changed
		m.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			return
		}
	}
}
