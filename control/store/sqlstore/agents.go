package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/onepam/onepam/control/store"
)

const agentCols = `id, name, hostname, version, cert_serial, enrolled_at, last_seen_at, revoked_at, remote_addr, node_id`

// CreateAgent inserts an agent. ErrConflict if the id is taken or a
// non-revoked agent has the name.
func (s *Core) CreateAgent(ctx context.Context, a store.AgentRecord) error {
	if a.ID == "" || a.Name == "" {
		return fmt.Errorf("create agent: %w: empty id or name", store.ErrInvalid)
	}
	if a.EnrolledAt.IsZero() {
		a.EnrolledAt = s.now()
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO agents (`+agentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Name, a.Hostname, a.Version, a.CertSerial, Nanos(a.EnrolledAt),
		NullNanos(a.LastSeenAt), NullNanos(a.RevokedAt), a.RemoteAddr, a.NodeID)
	if s.d.IsUnique(err) {
		return fmt.Errorf("create agent %q: %w", a.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create agent %q: %w", a.Name, err)
	}
	return nil
}

// GetAgent returns an agent by id.
func (s *Core) GetAgent(ctx context.Context, id string) (store.AgentRecord, error) {
	a, err := scanAgent(s.read.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.AgentRecord{}, fmt.Errorf("agent %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.AgentRecord{}, fmt.Errorf("get agent %q: %w", id, err)
	}
	return a, nil
}

// GetAgentByName returns the non-revoked agent of that name, or else the
// most recently enrolled revoked one.
func (s *Core) GetAgentByName(ctx context.Context, name string) (store.AgentRecord, error) {
	a, err := scanAgent(s.read.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE name = ?
		ORDER BY revoked_at IS NULL DESC, enrolled_at DESC, id DESC LIMIT 1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.AgentRecord{}, fmt.Errorf("agent %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.AgentRecord{}, fmt.Errorf("get agent %q: %w", name, err)
	}
	return a, nil
}

// ListAgents returns every agent, revoked ones included, by name then
// enrollment time.
func (s *Core) ListAgents(ctx context.Context) ([]store.AgentRecord, error) {
	return queryAll(ctx, s.read, "list agents", scanAgent, `SELECT `+agentCols+` FROM agents ORDER BY name, enrolled_at, id`)
}

// RevokeAgent marks an agent revoked (an earlier revocation time is kept)
// and removes its resources, in one transaction: a revoked agent serves
// nothing, and its resource names become free for other agents.
func (s *Core) RevokeAgent(ctx context.Context, id string, at time.Time) error {
	err := s.InTx(ctx, func(tx Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE agents SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, Nanos(at), id)
		if err != nil {
			return err
		}
		n, err := Affected(res)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("agent %q: %w", id, store.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM resources WHERE agent_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke agent %q: %w", id, err)
	}
	return nil
}

// AgentSeen records a connection or heartbeat; empty strings keep the
// stored version, hostname and remote address.
func (s *Core) AgentSeen(ctx context.Context, id string, at time.Time, version, hostname, remoteAddr string) error {
	res, err := s.write.ExecContext(ctx, `UPDATE agents SET
		last_seen_at = ?,
		version = COALESCE(NULLIF(?, ''), version),
		hostname = COALESCE(NULLIF(?, ''), hostname),
		remote_addr = COALESCE(NULLIF(?, ''), remote_addr)
		WHERE id = ?`, Nanos(at), version, hostname, remoteAddr, id)
	if err != nil {
		return fmt.Errorf("agent %q seen: %w", id, err)
	}
	n, err := Affected(res)
	if err != nil {
		return fmt.Errorf("agent %q seen: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("agent %q: %w", id, store.ErrNotFound)
	}
	return nil
}

func scanAgent(r rowScanner) (store.AgentRecord, error) {
	var (
		a             store.AgentRecord
		enrolled      int64
		seen, revoked sql.NullInt64
	)
	if err := r.Scan(&a.ID, &a.Name, &a.Hostname, &a.Version, &a.CertSerial, &enrolled, &seen, &revoked, &a.RemoteAddr, &a.NodeID); err != nil {
		return store.AgentRecord{}, err
	}
	a.EnrolledAt = FromNanos(enrolled)
	a.LastSeenAt = FromNullNanos(seen)
	a.RevokedAt = FromNullNanos(revoked)
	return a, nil
}
