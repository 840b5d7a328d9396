package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// sessionCols are the columns scanSession reads, in its order.
const sessionCols = `id, user_name, type, status, resource, agent, login, client_ip,
	created_at, started_at, ended_at, bytes_up, bytes_down, error, terminated_by, terminate_reason,
	rec_format, rec_state, rec_size, rec_available, node_id`

// numSessionCols is the number of sessionCols.
const numSessionCols = 21

// CreateSession inserts a pending session and its "created" timeline event
// (actor: the session's user). The ID must be a canonical UUIDv7; a zero
// CreatedAt is taken from the ID; an empty recording format is the type's
// and an empty recording state is "none". ErrConflict if the id exists.
func (s *Core) CreateSession(ctx context.Context, sess api.Session) error {
	if sess.Status != api.StatusPending {
		return fmt.Errorf("create session: %w: status must be pending, not %q", store.ErrInvalid, sess.Status)
	}
	if err := prepareSession(&sess); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	err := s.InTx(ctx, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (`+Placeholders(numSessionCols)+`)`,
			sessionArgs(&sess)...)
		if s.d.IsUnique(err) {
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO session_timeline (session_id, n, time, event, status, actor, detail)
			VALUES (?, 1, ?, ?, ?, ?, '')`, sess.ID, Nanos(sess.CreatedAt), api.EventCreated, string(api.StatusPending), sess.User)
		return err
	})
	if err != nil {
		return fmt.Errorf("create session %s: %w", sess.ID, err)
	}
	return nil
}

// prepareSession validates a session for insertion and fills its defaults.
func prepareSession(sess *api.Session) error {
	if err := store.ValidateID(sess.ID); err != nil {
		return err
	}
	if !sess.Type.Valid() {
		return fmt.Errorf("%w: unknown session type %q", store.ErrInvalid, sess.Type)
	}
	if !sess.Status.Valid() {
		return fmt.Errorf("%w: unknown session status %q", store.ErrInvalid, sess.Status)
	}
	if sess.CreatedAt.IsZero() {
		t, err := store.IDTime(sess.ID)
		if err != nil {
			return err
		}
		sess.CreatedAt = t
	}
	if sess.Recording.Format == "" {
		sess.Recording.Format = api.RecordingFormatFor(sess.Type)
	}
	if sess.Recording.State == "" {
		sess.Recording.State = api.RecordingNone
	}
	return nil
}

// sessionArgs are the values of sessionCols for an insert.
func sessionArgs(s *api.Session) []any {
	return []any{s.ID, s.User, string(s.Type), string(s.Status), s.Resource, s.Agent, s.Login, s.ClientIP,
		Nanos(s.CreatedAt), NullNanos(s.StartedAt), NullNanos(s.EndedAt), s.BytesUp, s.BytesDown,
		s.Error, s.TerminatedBy, s.TerminateReason,
		string(s.Recording.Format), string(s.Recording.State), s.Recording.Size, s.Recording.Available, s.NodeID}
}

// GetSession returns a session with its timeline.
func (s *Core) GetSession(ctx context.Context, id string) (api.Session, error) {
	sess, err := s.getSession(ctx, s.read, id)
	if err != nil {
		return api.Session{}, fmt.Errorf("get session %s: %w", id, err)
	}
	return sess, nil
}

// getSession reads one session and its timeline through q (a pool or a
// transaction).
func (s *Core) getSession(ctx context.Context, q queryer, id string) (api.Session, error) {
	sess, err := scanSession(q.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return api.Session{}, store.ErrNotFound
	}
	if err != nil {
		return api.Session{}, err
	}
	page := []api.Session{sess}
	if err := s.loadTimelines(ctx, q, page); err != nil {
		return api.Session{}, err
	}
	return page[0], nil
}

// scanSession reads sessionCols and computes DurationSeconds for ended
// sessions (running ones are the caller's to overlay).
func scanSession(r rowScanner) (api.Session, error) {
	var (
		s                   api.Session
		typ, status         string
		created             int64
		started, ended      sql.NullInt64
		recFormat, recState string
	)
	if err := r.Scan(&s.ID, &s.User, &typ, &status, &s.Resource, &s.Agent, &s.Login, &s.ClientIP,
		&created, &started, &ended, &s.BytesUp, &s.BytesDown, &s.Error, &s.TerminatedBy, &s.TerminateReason,
		&recFormat, &recState, &s.Recording.Size, &s.Recording.Available, &s.NodeID); err != nil {
		return api.Session{}, err
	}
	s.Type = api.SessionType(typ)
	s.Status = api.SessionStatus(status)
	s.CreatedAt = FromNanos(created)
	s.StartedAt = FromNullNanos(started)
	s.EndedAt = FromNullNanos(ended)
	s.Recording.Format = api.RecordingFormat(recFormat)
	s.Recording.State = api.RecordingState(recState)
	if s.StartedAt != nil && s.EndedAt != nil {
		s.DurationSeconds = s.Duration(*s.EndedAt).Seconds()
	}
	s.Timeline = []api.TimelineEvent{}
	return s, nil
}

// loadTimelines fills the timelines of page in one query.
func (s *Core) loadTimelines(ctx context.Context, q queryer, page []api.Session) error {
	if len(page) == 0 {
		return nil
	}
	idx := make(map[string]int, len(page))
	ids := make([]string, len(page))
	for i, sess := range page {
		idx[sess.ID] = i
		ids[i] = sess.ID
	}
	in, args := s.d.In("session_id", ids)
	rows, err := q.QueryContext(ctx, `SELECT session_id, time, event, status, actor, detail FROM session_timeline
		WHERE `+in+` ORDER BY session_id, n`, args...)
	if err != nil {
		return fmt.Errorf("load timelines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, status string
			t          int64
			e          api.TimelineEvent
		)
		if err := rows.Scan(&id, &t, &e.Event, &status, &e.Actor, &e.Detail); err != nil {
			return fmt.Errorf("load timelines: %w", err)
		}
		e.Time = FromNanos(t)
		e.Status = api.SessionStatus(status)
		if i, ok := idx[id]; ok {
			page[i].Timeline = append(page[i].Timeline, e)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load timelines: %w", err)
	}
	return nil
}

// AddSessionBytes adds to a session's byte counters (one atomic UPDATE).
func (s *Core) AddSessionBytes(ctx context.Context, id string, up, down int64) error {
	if up < 0 || down < 0 {
		return fmt.Errorf("add bytes to session %s: %w: negative count", id, store.ErrInvalid)
	}
	res, err := s.write.ExecContext(ctx, `UPDATE sessions SET bytes_up = bytes_up + ?, bytes_down = bytes_down + ? WHERE id = ?`,
		up, down, id)
	if err != nil {
		return fmt.Errorf("add bytes to session %s: %w", id, err)
	}
	return mustAffect(res, "session", id)
}

// SetRecording replaces a session's recording description.
func (s *Core) SetRecording(ctx context.Context, id string, r api.Recording) error {
	res, err := s.write.ExecContext(ctx, `UPDATE sessions SET rec_format = ?, rec_state = ?, rec_size = ?, rec_available = ? WHERE id = ?`,
		string(r.Format), string(r.State), r.Size, r.Available, id)
	if err != nil {
		return fmt.Errorf("set recording of session %s: %w", id, err)
	}
	return mustAffect(res, "session", id)
}

// mustAffect turns an UPDATE that changed nothing into ErrNotFound.
func mustAffect(res sql.Result, what, id string) error {
	n, err := Affected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", what, id, store.ErrNotFound)
	}
	return nil
}

// UnfinishedSessions lists the pending and active sessions (of one agent
// name, or all for ""), oldest first, with their timelines.
func (s *Core) UnfinishedSessions(ctx context.Context, agent string) ([]api.Session, error) {
	q := `SELECT ` + sessionCols + ` FROM sessions WHERE status IN ('pending', 'active')`
	var args []any
	if agent != "" {
		q += ` AND agent = ?`
		args = append(args, agent)
	}
	q += ` ORDER BY id`
	out, err := s.QuerySessions(ctx, 0, q, args...)
	if err != nil {
		return nil, fmt.Errorf("unfinished sessions: %w", err)
	}
	return out, nil
}

// QuerySessions runs a query selecting sessionCols on the read pool and
// loads the timelines of its first keep rows (all when keep is 0) in one
// more query, in the same read transaction (with the dialect's ReadTx
// options) so that both see one snapshot.
func (s *Core) QuerySessions(ctx context.Context, keep int, q string, args ...any) ([]api.Session, error) {
	raw, err := s.read.db.BeginTx(ctx, s.d.ReadTx)
	if err != nil {
		return nil, err
	}
	defer raw.Rollback()
	tx := Tx{raw, s.read.rb}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	out := []api.Session{}
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, err
	}
	rows.Close()
	withTimeline := out
	if keep > 0 && len(out) > keep {
		withTimeline = out[:keep]
	}
	if err := s.loadTimelines(ctx, tx, withTimeline); err != nil {
		return nil, err
	}
	return out, nil
}

// CountSessions counts sessions by type and status (a scan of the
// status/type index).
func (s *Core) CountSessions(ctx context.Context) (map[api.SessionType]map[api.SessionStatus]int64, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT type, status, COUNT(*) FROM sessions GROUP BY status, type`)
	if err != nil {
		return nil, fmt.Errorf("count sessions: %w", err)
	}
	defer rows.Close()
	out := map[api.SessionType]map[api.SessionStatus]int64{}
	for rows.Next() {
		var (
			typ, status string
			n           int64
		)
		if err := rows.Scan(&typ, &status, &n); err != nil {
			return nil, fmt.Errorf("count sessions: %w", err)
		}
		t := api.SessionType(typ)
		if out[t] == nil {
			out[t] = map[api.SessionStatus]int64{}
		}
		out[t][api.SessionStatus(status)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count sessions: %w", err)
	}
	return out, nil
}
