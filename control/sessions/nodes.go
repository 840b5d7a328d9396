package sessions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Several control nodes may share one database (PostgreSQL). Each is a
// row of control_nodes that it keeps alive with a heartbeat; each session
// records the node that carries it. A node fails only the unfinished
// sessions that no live node carries — its own left by a previous run
// under the same node id, those of nodes whose heartbeat stopped (crashed,
// killed, cut off from the database) or whose row is gone, and rows from
// before nodes were recorded — at start (RecoverInterrupted) and every
// SweepInterval (Sweep), so the survivors clean up after a node that died.
// The sessions of live nodes are left alone. A session is carried by the
// node its agent is attached to: a request that needs another live node
// fails with an *OtherNodeError naming it (api.CodeOtherNode), which
// control's API forwards to that node's URL (Node.URL) when it can.

// Node says which control node a Manager runs on.
type Node struct {
	// ID identifies the node in the database (default: a new UUIDv7).
	ID string
	// Name is the node's advertised name, given in errors and logs
	// (default: the ID).
	Name string
	// URL is where the other nodes reach this node's API, kept in its
	// row so that they forward requests to it ("": not forwarded to).
	URL string
	// Shared: other nodes may use the database at once (PostgreSQL).
	// When false (SQLite), one control process uses the database at a
	// time, so every session this manager does not run was left by a
	// previous run, whatever its node.
	Shared bool
	// HeartbeatInterval is how often the node's row is refreshed
	// (default 5 s).
	HeartbeatInterval time.Duration
	// Timeout: a node whose heartbeat is older than this is taken for
	// stopped (default 30 s; longer than several heartbeats, and than the
	// clock skew between nodes).
	Timeout time.Duration
	// SweepInterval is how often Run fails the sessions of stopped nodes
	// (default 10 s).
	SweepInterval time.Duration
}

// Node defaults.
const (
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultNodeTimeout       = 30 * time.Second
	DefaultSweepInterval     = 10 * time.Second
)

func (n Node) withDefaults() Node {
	if n.ID == "" {
		n.ID = store.NewID()
	}
	if n.Name == "" {
		n.Name = n.ID
	}
	if n.HeartbeatInterval <= 0 {
		n.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if n.Timeout <= 0 {
		n.Timeout = DefaultNodeTimeout
	}
	if n.SweepInterval <= 0 {
		n.SweepInterval = DefaultSweepInterval
	}
	return n
}

// Label names the node in messages: "name (id)", or the id.
func (n Node) Label() string { return store.NodeLabel(n.ID, n.Name) }

// NodeID is the id of the node the manager runs on.
func (m *Manager) NodeID() string { return m.cfg.Node.ID }

// Join registers the node (its row, with a heartbeat at now). Call it
// before creating sessions; Run keeps the row alive.
func (m *Manager) Join(ctx context.Context) error {
	now := m.now()
	n := m.cfg.Node
	if err := m.cfg.Store.RegisterNode(ctx, store.ControlNode{ID: n.ID, Name: n.Name, URL: n.URL, StartedAt: now, HeartbeatAt: now}); err != nil {
		return fmt.Errorf("register control node %s: %w", n.Label(), err)
	}
	m.cfg.Logger.Info("control node registered", "node_id", n.ID, "node", n.Name)
	return nil
}

// Leave removes the node's row and detaches its agents: the clean end of
// a node, after Shutdown ended its sessions.
func (m *Manager) Leave(ctx context.Context) error {
	if err := m.cfg.Store.RemoveNode(ctx, m.cfg.Node.ID); err != nil {
		return fmt.Errorf("remove control node %s: %w", m.cfg.Node.Label(), err)
	}
	return nil
}

// runNode heartbeats and sweeps until ctx is done.
func (m *Manager) runNode(ctx context.Context) {
	beat := time.NewTicker(m.cfg.Node.HeartbeatInterval)
	defer beat.Stop()
	sweep := time.NewTicker(m.cfg.Node.SweepInterval)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			m.heartbeat(ctx)
		case <-sweep.C:
			if _, err := m.Sweep(ctx); err != nil && ctx.Err() == nil {
				m.cfg.Logger.Error("sweep the sessions of stopped control nodes", "err", err)
			}
		}
	}
}

// heartbeat refreshes the node's row, registering it again when another
// node removed it (took this one for stopped). It goes on while Shutdown
// gives running sessions their grace; Leave removes the row after Run.
func (m *Manager) heartbeat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, max(m.cfg.Node.HeartbeatInterval, 5*time.Second))
	defer cancel()
	err := m.cfg.Store.NodeHeartbeat(ctx, m.cfg.Node.ID, m.now())
	if errors.Is(err, store.ErrNotFound) {
		m.cfg.Logger.Warn("this control node's row was removed (its heartbeat was late, so another node took it for stopped and may have failed its sessions): registering again",
			"node_id", m.cfg.Node.ID)
		err = m.Join(ctx)
	}
	if err != nil && ctx.Err() == nil {
		m.cfg.Logger.Error("control node heartbeat", "node_id", m.cfg.Node.ID, "err", err)
	}
}

// Sweep fails the unfinished sessions that no live node carries (see the
// comment at the top of this file) with "interrupted: control restarted"
// or "interrupted: control node X stopped", ends the live sessions of
// this node that another node ended (a kill through another node), and
// removes the rows of stopped nodes. It returns the number of sessions
// failed.
func (m *Manager) Sweep(ctx context.Context) (int, error) {
	// This node's own row is fresh first: a heartbeat that came late
	// (a slow database, a jump of the clock) never makes a node remove
	// its own row.
	m.heartbeat(ctx)
	// The live sessions are taken before the rows, and the nodes after:
	// a session created later is not in the listing, and a node that
	// registered after the listing carries none of the sessions listed.
	before := m.snapshot()
	ss, err := m.cfg.Store.UnfinishedSessions(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("list unfinished sessions: %w", err)
	}
	nodes, err := m.cfg.Store.ListNodes(ctx)
	if err != nil {
		return 0, fmt.Errorf("list control nodes: %w", err)
	}
	now := m.now()
	byID := make(map[string]store.ControlNode, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	unfinished := make(map[string]bool, len(ss))
	failed := 0
	for _, s := range ss {
		unfinished[s.ID] = true
		if m.get(s.ID) != nil {
			continue // this node carries it
		}
		detail, orphan := m.orphaned(s, byID, now)
		if !orphan {
			continue
		}
		_, err := m.cfg.Store.Transition(ctx, s.ID, store.Transition{To: api.StatusFailed, At: m.now(), Detail: detail})
		if err != nil && !errors.Is(err, api.ErrIllegalTransition) {
			return failed, fmt.Errorf("fail interrupted session %s: %w", s.ID, err)
		}
		if err == nil {
			failed++
			m.cfg.Logger.Info("session failed: interrupted", "session_id", s.ID, "previous_status", s.Status, "node_id", s.NodeID, "detail", detail)
		}
	}
	for _, l := range before {
		if !unfinished[l.id] {
			m.endedElsewhere(ctx, l)
		}
	}
	ids, err := m.cfg.Store.RemoveStaleNodes(ctx, now.Add(-m.cfg.Node.Timeout))
	if err != nil {
		return failed, err
	}
	for _, id := range ids {
		m.cfg.Logger.Warn("control node stopped without its shutdown: removed its row", "node_id", id, "node", byID[id].Name)
	}
	return failed, nil
}

// orphaned says whether no live node carries unfinished session s (which
// this manager does not run), and the detail to fail it with.
func (m *Manager) orphaned(s api.Session, nodes map[string]store.ControlNode, now time.Time) (string, bool) {
	const restarted = "interrupted: control restarted"
	switch {
	case s.NodeID == "" || s.NodeID == m.cfg.Node.ID || !m.cfg.Node.Shared:
		// A row from before nodes were recorded, this node's previous
		// run, or (one process at a time) any earlier run.
		return restarted, true
	}
	n, ok := nodes[s.NodeID]
	if !ok {
		return fmt.Sprintf("interrupted: control node %s stopped", s.NodeID), true
	}
	if m.nodeLive(n, now) {
		return "", false
	}
	return fmt.Sprintf("interrupted: control node %s stopped", n.Label()), true
}

// nodeLive reports whether node n heartbeat within the timeout.
func (m *Manager) nodeLive(n store.ControlNode, now time.Time) bool {
	return now.Sub(n.HeartbeatAt) <= m.cfg.Node.Timeout
}

// endedElsewhere ends the live side of a session whose row another
// node ended (a kill through another node, or a sweep that took this
// node for stopped).
func (m *Manager) endedElsewhere(ctx context.Context, l *live) {
	l.mu.Lock()
	ended := l.ended
	l.mu.Unlock()
	if ended {
		return // ended here: the row follows
	}
	s, err := m.cfg.Store.GetSession(ctx, l.id)
	if err != nil || !s.Status.Terminal() {
		return // not inserted yet (Create), or moved on meanwhile
	}
	t := store.Transition{To: s.Status, Actor: s.TerminatedBy, Detail: s.Error}
	message := ""
	if s.Status == api.StatusTerminated {
		t.Detail = s.TerminateReason
		message = fmt.Sprintf("session terminated by an administrator (%s)", s.TerminatedBy)
		if s.TerminateReason != "" {
			message += ": " + s.TerminateReason
		}
	}
	if s.EndedAt != nil {
		t.At = *s.EndedAt
	}
	m.cfg.Logger.Info("session ended through another control node", "session_id", l.id, "status", s.Status)
	_, _ = m.end(l, t, message, &s)
}

// OtherNodeError is the answer to a request that needs another live
// control node: the agent of the resource is attached to it, or it
// carries the session. Its *api.Error (other_node) names the node;
// control's API forwards the request to Node.URL instead when it can,
// and answers Reason otherwise.
type OtherNodeError struct {
	Node store.ControlNode // the live node that holds the agent or session
	Err  *api.Error        // other_node, naming it
}

func (e *OtherNodeError) Error() string { return e.Err.Error() }

// Unwrap returns the *api.Error.
func (e *OtherNodeError) Unwrap() error { return e.Err }

// Reason is the other_node error with why the request was not forwarded.
func (e *OtherNodeError) Reason(why string) *api.Error {
	return api.Errorf(api.CodeOtherNode, "%s (not forwarded: %s)", e.Err.Message, why)
}

// elsewhere returns the error for a request that needs node (the node an
// agent is attached to, or that carries a session) when that is another
// node: an *OtherNodeError naming it when it is live, nil otherwise (no
// node, this node, or a node that stopped). what says what node holds:
// "agent X ... is attached to" or "session X is carried by".
func (m *Manager) elsewhere(ctx context.Context, node, what, prep string) error {
	n, ok := m.liveOther(ctx, node)
	if !ok {
		return nil
	}
	return &OtherNodeError{Node: n, Err: api.Errorf(api.CodeOtherNode, "%s control node %s, not %s this one (%s): connect through that node",
		what, n.Label(), prep, m.cfg.Node.Label())}
}

// liveOther returns the row of node when it is another node than this
// one and live.
func (m *Manager) liveOther(ctx context.Context, node string) (store.ControlNode, bool) {
	if node == "" || node == m.cfg.Node.ID {
		return store.ControlNode{}, false
	}
	n, err := m.cfg.Store.GetNode(ctx, node)
	if err != nil || !m.nodeLive(n, m.now()) {
		return store.ControlNode{}, false
	}
	return n, true
}

// Carrier returns the live control node, other than this one, that
// carries unfinished session id, when this node does not run it: a kill
// is best sent there, so that the session ends at once rather than at
// that node's next sweep.
func (m *Manager) Carrier(ctx context.Context, id string) (store.ControlNode, bool) {
	if m.get(id) != nil {
		return store.ControlNode{}, false
	}
	s, err := m.cfg.Store.GetSession(ctx, id)
	if err != nil || s.Status.Terminal() {
		return store.ControlNode{}, false
	}
	return m.liveOther(ctx, s.NodeID)
}

// agentElsewhere is elsewhere for the agent of res, which is not
// attached to this node.
func (m *Manager) agentElsewhere(ctx context.Context, res store.ResourceRecord) error {
	a, err := m.cfg.Store.GetAgent(ctx, res.AgentID)
	if err != nil {
		return nil
	}
	return m.elsewhere(ctx, a.NodeID, fmt.Sprintf("agent %q serving resource %q is attached to", res.Agent, res.Name), "to")
}

// sessionElsewhere is elsewhere for session s, which this node does not
// run.
func (m *Manager) sessionElsewhere(ctx context.Context, s api.Session) error {
	return m.elsewhere(ctx, s.NodeID, fmt.Sprintf("session %s is carried by", s.ID), "by")
}
