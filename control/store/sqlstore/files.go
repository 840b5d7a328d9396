package sqlstore

import (
	"context"
	"fmt"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// AddFileEvent stores one file operation of a session.
func (s *Core) AddFileEvent(ctx context.Context, e api.FileEvent) error {
	if e.SessionID == "" || e.Op == "" {
		return fmt.Errorf("add file event: %w: session id and op are required", store.ErrInvalid)
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO file_events (session_id, at, protocol, op, path, path2, bytes, result, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.SessionID, Nanos(e.Time), e.Protocol, e.Op, e.Path, e.Path2, e.Bytes, e.Result, e.Error)
	if s.d.isForeignKey(err) {
		return fmt.Errorf("add file event: session %s: %w", e.SessionID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("add file event of session %s: %w", e.SessionID, err)
	}
	return nil
}

// ListFileEvents returns a session's file events, oldest first, keeping
// only ops when given.
func (s *Core) ListFileEvents(ctx context.Context, sessionID string, ops []string) ([]api.FileEvent, error) {
	q := `SELECT at, protocol, op, path, path2, bytes, result, error FROM file_events WHERE session_id = ?`
	args := []any{sessionID}
	if len(ops) > 0 {
		cond, a := s.d.In("op", ops)
		q += ` AND ` + cond
		args = append(args, a...)
	}
	rows, err := s.read.QueryContext(ctx, q+` ORDER BY seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("list file events of session %s: %w", sessionID, err)
	}
	defer rows.Close()
	out := []api.FileEvent{}
	for rows.Next() {
		e := api.FileEvent{SessionID: sessionID}
		var at int64
		if err := rows.Scan(&at, &e.Protocol, &e.Op, &e.Path, &e.Path2, &e.Bytes, &e.Result, &e.Error); err != nil {
			return nil, fmt.Errorf("list file events of session %s: %w", sessionID, err)
		}
		e.Time = FromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
