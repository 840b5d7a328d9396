package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// The methods of this file serve recording integrity, storage and
// retention (migration 0004). They are not part of store.Store: their
// users declare the small interfaces they need.

// AddAgentSigningKey records a public key an agent signs recordings with
// (a key already known is kept with its first time).
func (s *Core) AddAgentSigningKey(ctx context.Context, agentID string, key []byte, at time.Time) error {
	if len(key) != 32 {
		return fmt.Errorf("add signing key of agent %s: %w: %d bytes, want 32", agentID, store.ErrInvalid, len(key))
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO agent_signing_keys (agent_id, public_key, first_seen) VALUES (?, ?, ?)
		ON CONFLICT (agent_id, public_key) DO NOTHING`, agentID, key, Nanos(at))
	if err != nil {
		return fmt.Errorf("add signing key of agent %s: %w", agentID, err)
	}
	return nil
}

// AgentSigningKeys returns every public key an agent announced, oldest
// first.
func (s *Core) AgentSigningKeys(ctx context.Context, agentID string) ([][]byte, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT public_key FROM agent_signing_keys WHERE agent_id = ? ORDER BY first_seen`, agentID)
	if err != nil {
		return nil, fmt.Errorf("signing keys of agent %s: %w", agentID, err)
	}
	defer rows.Close()
	var keys [][]byte
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("signing keys of agent %s: %w", agentID, err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// GetSetting returns a setting's JSON value; ok false when it was never
// set.
func (s *Core) GetSetting(ctx context.Context, key string) (value string, ok bool, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("get setting %s: %w", key, err)
	}
	return value, true, nil
}

// PutSetting sets a setting's JSON value.
func (s *Core) PutSetting(ctx context.Context, key, value, by string, at time.Time) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		key, value, Nanos(at), by)
	if err != nil {
		return fmt.Errorf("put setting %s: %w", key, err)
	}
	return nil
}

// SetRecordingLocation records the store holding a session's recording;
// the first location recorded stays.
func (s *Core) SetRecordingLocation(ctx context.Context, sessionID, storeName string, at time.Time) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO recording_locations (session_id, store, created_at) VALUES (?, ?, ?)
		ON CONFLICT (session_id) DO NOTHING`, sessionID, storeName, Nanos(at))
	if err != nil {
		return fmt.Errorf("set recording location of %s: %w", sessionID, err)
	}
	return nil
}

// RecordingLocation returns the store holding a session's recording; ok
// false when none was recorded (recordings stored before migration 0004
// are in the local directory).
func (s *Core) RecordingLocation(ctx context.Context, sessionID string) (storeName string, ok bool, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT store FROM recording_locations WHERE session_id = ?`, sessionID).Scan(&storeName)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("recording location of %s: %w", sessionID, err)
	}
	return storeName, true, nil
}

// ExpirableRecordings returns up to limit sessions that ended before
// before and still have a stored recording (state complete or partial),
// oldest first.
func (s *Core) ExpirableRecordings(ctx context.Context, before time.Time, limit int) ([]api.Session, error) {
	return queryAll(ctx, s.read, "expirable recordings", scanSession, `SELECT `+sessionCols+` FROM sessions
		WHERE ended_at IS NOT NULL AND ended_at < ? AND rec_state IN ('complete', 'partial')
		ORDER BY ended_at LIMIT ?`, Nanos(before), limit)
}
