package postgres

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
// The session's row is locked (SELECT ... FOR UPDATE) from the read of its
// status to the commit, so of two racing moves out of one state, from any
// number of control nodes, exactly one wins; the other reads the new
// status and gets the illegal-transition error.
func (s *Store) Transition(ctx context.Context, id string, t store.Transition) (api.Session, error) {
	if t.At.IsZero() {
		t.At = s.cfg.now()
	}
	var out api.Session
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var from string
		err := tx.QueryRowContext(ctx, `SELECT status FROM sessions WHERE id = $1 FOR UPDATE`, id).Scan(&from)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := api.CheckTransition(api.SessionStatus(from), t.To); err != nil {
			return err
		}
		var a args
		set := `status = ` + a.add(string(t.To))
		at := nanos(t.At)
		switch t.To {
		case api.StatusActive:
			set += `, started_at = ` + a.add(at)
		case api.StatusFailed:
			set += `, ended_at = ` + a.add(at) + `, error = ` + a.add(t.Detail)
		case api.StatusTerminated:
			set += `, ended_at = ` + a.add(at) + `, terminated_by = ` + a.add(t.Actor) + `, terminate_reason = ` + a.add(t.Detail)
		case api.StatusCompleted:
			set += `, ended_at = ` + a.add(at)
		}
		if t.Agent != "" {
			set += `, agent = ` + a.add(t.Agent)
		}
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET `+set+` WHERE id = `+a.add(id)+` AND status = `+a.add(from), a...)
		if err != nil {
			return err
		}
		n, err := affected(res)
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%w: %s → %s (the session changed concurrently)", api.ErrIllegalTransition, from, t.To)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO session_timeline (session_id, n, time, event, status, actor, detail)
			VALUES ($1, (SELECT COALESCE(MAX(n), 0) + 1 FROM session_timeline WHERE session_id = $1), $2, $3, $4, $5, $6)`, id, at, api.EventFor(t.To), string(t.To), t.Actor, t.Detail); err != nil {
			return err
		}
		out, err = getSession(ctx, tx, id)
		return err
	})
	if err != nil {
		return api.Session{}, fmt.Errorf("session %s: %w", id, err)
	}
	return out, nil
}
