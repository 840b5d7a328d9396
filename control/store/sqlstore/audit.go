package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// defaultAuditLimit is ListAudit's page size when the filter gives none.
const defaultAuditLimit = 100

// AddAudit appends an audit event. An empty ID gets a new UUIDv7 (at the
// event's time); a zero Time gets the clock's. A given ID must be a
// canonical UUIDv7 (ErrInvalid otherwise), ErrConflict if taken.
func (s *Core) AddAudit(ctx context.Context, e api.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if e.ID == "" {
		e.ID = store.IDAt(e.Time)
	} else if err := store.ValidateID(e.ID); err != nil {
		return fmt.Errorf("add audit event: %w", err)
	}
	var fields sql.NullString
	if len(e.Fields) > 0 {
		j, err := ToJSON(e.Fields, "{}")
		if err != nil {
			return fmt.Errorf("add audit event: %w", err)
		}
		fields = sql.NullString{String: j, Valid: true}
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO audit_log (id, time, actor, action, target, outcome, detail, client_ip, fields)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, Nanos(e.Time), e.Actor, e.Action, e.Target, e.Outcome, e.Detail, e.ClientIP, fields)
	if s.d.IsUnique(err) {
		return fmt.Errorf("add audit event %s: %w", e.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("add audit event: %w", err)
	}
	return nil
}

// ListAudit returns the events matching f, newest first (by id).
func (s *Core) ListAudit(ctx context.Context, f store.AuditFilter) ([]api.AuditEvent, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list audit: %w: negative limit %d", store.ErrInvalid, f.Limit)
	}
	if f.Limit == 0 {
		f.Limit = defaultAuditLimit
	}
	var (
		where []string
		args  []any
	)
	if f.Actor != "" {
		where = append(where, `actor = ?`)
		args = append(args, f.Actor)
	}
	if f.Action != "" {
		cond, a := s.d.HasPrefix("action", f.Action)
		where = append(where, cond)
		args = append(args, a...)
	}
	if !f.Since.IsZero() {
		where = append(where, `id >= ?`, `time >= ?`)
		args = append(args, store.IDLowerBound(f.Since), Nanos(f.Since))
	}
	q := `SELECT id, time, actor, action, target, outcome, detail, client_ip, fields FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []api.AuditEvent
	for rows.Next() {
		var (
			e      api.AuditEvent
			t      int64
			fields sql.NullString
		)
		if err := rows.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.Target, &e.Outcome, &e.Detail, &e.ClientIP, &fields); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.Time = FromNanos(t)
		if fields.Valid {
			if err := FromJSON(fields.String, &e.Fields); err != nil {
				return nil, fmt.Errorf("audit event %s: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}
