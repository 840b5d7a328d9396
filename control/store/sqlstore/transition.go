package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Transition moves a session to t.To in one write transaction: it reads the
// current status, applies api.CheckTransition (its error is returned
// wrapped, so errors.Is(err, api.ErrIllegalTransition) holds), writes the
// new state with the times and fields it implies, appends the timeline
// event and returns the updated session with its timeline.
//
// Entering active sets started_at; entering a terminal state sets
// ended_at; failed sets error to t.Detail; terminated sets terminated_by
// and terminate_reason to t.Actor and t.Detail; a non-empty t.Agent sets
// the agent (normally given with active). A zero t.At is the clock's time.
//
// The session's row is locked from the read of its status to the commit
// (the dialect's ForUpdate; on SQLite writes are serialised on the single
// write connection), and the UPDATE also checks the status it read, so of
// two racing moves out of one state exactly one wins; the other gets the
// illegal-transition error.
func (s *Core) Transition(ctx context.Context, id string, t store.Transition) (api.Session, error) {
	if t.At.IsZero() {
		t.At = s.now()
	}
	var out api.Session
	err := s.InTx(ctx, func(tx Tx) error {
		var from string
		err := tx.QueryRowContext(ctx, `SELECT status FROM sessions WHERE id = ?`+s.d.ForUpdate, id).Scan(&from)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := api.CheckTransition(api.SessionStatus(from), t.To); err != nil {
			return err
		}
		set := `status = ?`
		args := []any{string(t.To)}
		at := Nanos(t.At)
		switch t.To {
		case api.StatusActive:
			set += `, started_at = ?`
			args = append(args, at)
		case api.StatusFailed:
			set += `, ended_at = ?, error = ?`
			args = append(args, at, t.Detail)
		case api.StatusTerminated:
			set += `, ended_at = ?, terminated_by = ?, terminate_reason = ?`
			args = append(args, at, t.Actor, t.Detail)
		case api.StatusCompleted:
			set += `, ended_at = ?`
			args = append(args, at)
		}
		if t.Agent != "" {
			set += `, agent = ?`
			args = append(args, t.Agent)
		}
		args = append(args, id, from)
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET `+set+` WHERE id = ? AND status = ?`, args...)
		if err != nil {
			return err
		}
		n, err := Affected(res)
		if err != nil {
			return err
		}
		if n != 1 {
			// Another writer moved the session between our read and write
			// (possible only with a second process on the file).
			return fmt.Errorf("%w: %s → %s (the session changed concurrently)", api.ErrIllegalTransition, from, t.To)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO session_timeline (session_id, n, time, event, status, actor, detail)
			VALUES (?, (SELECT COALESCE(MAX(n), 0) + 1 FROM session_timeline WHERE session_id = ?), ?, ?, ?, ?, ?)`, id, id, at, api.EventFor(t.To), string(t.To), t.Actor, t.Detail); err != nil {
			return err
		}
		out, err = s.getSession(ctx, tx, id)
		return err
	})
	if err != nil {
		return api.Session{}, fmt.Errorf("session %s: %w", id, err)
	}
	return out, nil
}
