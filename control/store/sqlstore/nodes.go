package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/onepam/onepam/control/store"
)

// The control nodes (migration control_nodes, and node_url for the URL):
// one row per running control process, its heartbeat and the URL other
// nodes reach its API at, and the node of each agent.

const nodeCols = `id, name, started_at, heartbeat_at, url`

// RegisterNode inserts a node's row, or replaces the row of its id (a
// node restarted with the same --node-id).
func (s *Core) RegisterNode(ctx context.Context, n store.ControlNode) error {
	if n.ID == "" {
		return fmt.Errorf("register node: %w: empty id", store.ErrInvalid)
	}
	if n.StartedAt.IsZero() {
		n.StartedAt = s.now()
	}
	if n.HeartbeatAt.IsZero() {
		n.HeartbeatAt = n.StartedAt
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO control_nodes (`+nodeCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, url = excluded.url`,
		n.ID, n.Name, Nanos(n.StartedAt), Nanos(n.HeartbeatAt), n.URL)
	if err != nil {
		return fmt.Errorf("register node %s: %w", n.ID, err)
	}
	return nil
}

// NodeHeartbeat sets a node's heartbeat time; ErrNotFound when its row is
// gone.
func (s *Core) NodeHeartbeat(ctx context.Context, id string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE control_nodes SET heartbeat_at = ? WHERE id = ?`, Nanos(at), id)
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", id, err)
	}
	return mustAffect(res, "node", id)
}

// RemoveNode deletes a node's row and clears the node of the agents
// attached to it, in one transaction.
func (s *Core) RemoveNode(ctx context.Context, id string) error {
	err := s.InTx(ctx, func(tx Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE agents SET node_id = '' WHERE node_id = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM control_nodes WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("remove node %s: %w", id, err)
	}
	return nil
}

// RemoveStaleNodes deletes the rows of the nodes whose heartbeat is before
// cutoff, then detaches their agents, in one transaction; a node that
// heartbeats meanwhile keeps its row and its agents.
func (s *Core) RemoveStaleNodes(ctx context.Context, cutoff time.Time) ([]string, error) {
	var ids []string
	err := s.InTx(ctx, func(tx Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM control_nodes WHERE heartbeat_at < ? RETURNING id`, Nanos(cutoff))
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		in, args := s.d.In("node_id", ids)
		_, err = tx.ExecContext(ctx, `UPDATE agents SET node_id = '' WHERE `+in, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("remove stale nodes: %w", err)
	}
	return ids, nil
}

// GetNode returns a node's row.
func (s *Core) GetNode(ctx context.Context, id string) (store.ControlNode, error) {
	n, err := scanNode(s.read.QueryRowContext(ctx, `SELECT `+nodeCols+` FROM control_nodes WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.ControlNode{}, fmt.Errorf("node %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.ControlNode{}, fmt.Errorf("get node %s: %w", id, err)
	}
	return n, nil
}

// ListNodes returns every node's row, by id.
func (s *Core) ListNodes(ctx context.Context) ([]store.ControlNode, error) {
	return queryAll(ctx, s.read, "list nodes", scanNode, `SELECT `+nodeCols+` FROM control_nodes ORDER BY id`)
}

func scanNode(r rowScanner) (store.ControlNode, error) {
	var (
		n                  store.ControlNode
		started, heartbeat int64
	)
	if err := r.Scan(&n.ID, &n.Name, &started, &heartbeat, &n.URL); err != nil {
		return store.ControlNode{}, err
	}
	n.StartedAt = FromNanos(started)
	n.HeartbeatAt = FromNanos(heartbeat)
	return n, nil
}

// AttachAgent records that an agent is attached to node.
func (s *Core) AttachAgent(ctx context.Context, agentID, node string) error {
	res, err := s.write.ExecContext(ctx, `UPDATE agents SET node_id = ? WHERE id = ?`, node, agentID)
	if err != nil {
		return fmt.Errorf("attach agent %q to node %s: %w", agentID, node, err)
	}
	return mustAffect(res, "agent", agentID)
}

// DetachAgent clears an agent's node if it is still node.
func (s *Core) DetachAgent(ctx context.Context, agentID, node string) error {
	if _, err := s.write.ExecContext(ctx, `UPDATE agents SET node_id = '' WHERE id = ? AND node_id = ?`, agentID, node); err != nil {
		return fmt.Errorf("detach agent %q from node %s: %w", agentID, node, err)
	}
	return nil
}

// Shared reports whether several control nodes may use the database at
// once (PostgreSQL), rather than one at a time (SQLite).
func (s *Core) Shared() bool { return s.d.Shared }

// catchUpLock is the key of the lock of the search index catch-up
// ("onepam-s").
const catchUpLock int64 = 0x6f6e6570616d2d73

// TryCatchUpLock takes the lock that lets one control node at a time run
// the search index catch-up, without waiting: ok is false when another
// holder has it. release gives it back. Where the dialect has a session
// lock (PostgreSQL's pg_try_advisory_lock) the lock is held on a
// connection of its own, so a node that dies releases it with its
// connection; elsewhere it is a lock of this Core (one process).
func (s *Core) TryCatchUpLock(ctx context.Context) (release func(), ok bool, err error) {
	return s.tryLock(ctx, catchUpLock)
}

// tryLock takes the lock key without waiting.
func (s *Core) tryLock(ctx context.Context, key int64) (func(), bool, error) {
	if s.d.TryLock == "" {
		return s.locks.tryLock(key)
	}
	conn, err := s.write.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %x: %w", key, err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, s.write.rb.bind(s.d.TryLock), key).Scan(&ok); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("lock %x: %w", key, err)
	}
	if !ok {
		conn.Close()
		return nil, false, nil
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			s.locks.forget(key)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := conn.ExecContext(ctx, s.write.rb.bind(s.d.Unlock), key); err != nil {
				// The lock may still be held: drop the connection (which
				// releases it) rather than return it to the pool.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
			conn.Close()
		})
	}
	s.locks.remember(key, release)
	return release, true, nil
}

// ReleaseLocks releases the locks TryCatchUpLock took and that are still
// held (a store closes them before its pool).
func (s *Core) ReleaseLocks() {
	s.locks.mu.Lock()
	rs := make([]func(), 0, len(s.locks.release))
	for _, r := range s.locks.release {
		rs = append(rs, r)
	}
	s.locks.mu.Unlock()
	for _, r := range rs {
		r()
	}
}

// processLocks are the locks of a Core: the keys held where the dialect
// has no TryLock, and the release of each database lock held.
type processLocks struct {
	mu      sync.Mutex
	held    map[int64]bool
	release map[int64]func()
}

func (p *processLocks) remember(key int64, release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.release == nil {
		p.release = map[int64]func(){}
	}
	p.release[key] = release
}

func (p *processLocks) forget(key int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.release, key)
}

func (p *processLocks) tryLock(key int64) (func(), bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held[key] {
		return nil, false, nil
	}
	if p.held == nil {
		p.held = map[int64]bool{}
	}
	p.held[key] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			delete(p.held, key)
			p.mu.Unlock()
		})
	}, true, nil
}
