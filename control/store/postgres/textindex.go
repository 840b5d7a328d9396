package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlstore"
	"github.com/onepam/onepam/pkg/api"
)

// The methods of this file index a recording's text in steps that
// survive a control stopped half-way: an attempt begins (deleting what an
// unfinished one left), adds lines in batches, and finishes with its last
// lines and the state 'done' in one transaction. They are not part of
// store.Store: control/recordings declares what it needs.
//
// A recording's lines are the rows of recording_text with its num (its
// row in recording_text_state), at positions 0, 1, ... Each step locks the
// recording's state row (FOR UPDATE), so steps of attempts on several
// control nodes are serialised.

// BeginRecordingText begins an attempt at indexing a session's recording
// text: it deletes the lines an unfinished attempt left and counts the
// attempt. ok is false when the recording is indexed already.
func (s *Store) BeginRecordingText(ctx context.Context, sessionID string) (ti store.TextIndexing, ok bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		ti, ok, err = beginText(ctx, tx, sessionID, false, s.cfg.now())
		return err
	})
	if err != nil {
		return store.TextIndexing{}, false, fmt.Errorf("begin indexing the recording text of session %s: %w", sessionID, err)
	}
	return ti, ok, nil
}

// AddRecordingText adds lines to an attempt (one transaction). They are
// not searchable before FinishRecordingText.
func (s *Store) AddRecordingText(ctx context.Context, ti *store.TextIndexing, lines []store.TextLine) error {
	if len(lines) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkAttempt(ctx, tx, ti); err != nil {
			return err
		}
		return insertText(ctx, tx, ti, lines)
	})
	if err != nil {
		return fmt.Errorf("index recording text of session %s: %w", ti.SessionID, err)
	}
	ti.Lines += int64(len(lines))
	return nil
}

// FinishRecordingText adds an attempt's last lines and marks the
// recording indexed, in one transaction: from then on its lines are
// searchable.
func (s *Store) FinishRecordingText(ctx context.Context, ti *store.TextIndexing, lines []store.TextLine) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkAttempt(ctx, tx, ti); err != nil {
			return err
		}
		return finishText(ctx, tx, ti, lines, s.cfg.now())
	})
	if err != nil {
		return fmt.Errorf("finish indexing the recording text of session %s: %w", ti.SessionID, err)
	}
	ti.Lines += int64(len(lines))
	return nil
}

// FailRecordingText ends an unfinished attempt (see store.TextFailure)
// and deletes the lines it added; reason is kept with the state. A
// recording indexed already is left as it is.
func (s *Store) FailRecordingText(ctx context.Context, sessionID string, f store.TextFailure, reason string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var num int64
		var state string
		err := tx.QueryRowContext(ctx, `SELECT num, state FROM recording_text_state WHERE session_id = $1 FOR UPDATE`, sessionID).Scan(&num, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil || state == "done" {
			return err
		}
		upd := `UPDATE recording_text_state SET state = 'failed', error = $1, updated_at = $2 WHERE num = $3`
		switch f {
		case store.TextMissing:
			upd = `UPDATE recording_text_state SET state = 'missing', error = $1, updated_at = $2 WHERE num = $3`
		case store.TextInterrupted:
			upd = `UPDATE recording_text_state SET state = 'failed', attempts = GREATEST(attempts - 1, 0), error = $1, updated_at = $2 WHERE num = $3`
		}
		if _, err := tx.ExecContext(ctx, upd, reason, nanos(s.cfg.now()), num); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM recording_text WHERE num = $1`, num)
		return err
	})
	if err != nil {
		return fmt.Errorf("record the failed indexing of the recording text of session %s: %w", sessionID, err)
	}
	return nil
}

// UnindexedRecordings returns a page of final recordings whose text is
// not indexed (see store.UnindexedQuery), newest session first.
func (s *Store) UnindexedRecordings(ctx context.Context, q store.UnindexedQuery) ([]store.UnindexedRecording, error) {
	if len(q.Formats) == 0 {
		return nil, fmt.Errorf("unindexed recordings: %w: no formats", store.ErrInvalid)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	formats := make([]string, len(q.Formats))
	for i, f := range q.Formats {
		formats[i] = string(f)
	}
	var a args
	sqlText := `SELECT s.id, s.rec_format, COALESCE(x.state, ''), COALESCE(x.attempts, 0)
		FROM sessions s LEFT JOIN recording_text_state x ON x.session_id = s.id
		WHERE s.rec_state IN (` + a.add(string(api.RecordingComplete)) + `, ` + a.add(string(api.RecordingPartial)) + `)
		AND s.rec_format = ANY(` + a.add(formats) + `)
		AND (x.state IS NULL OR x.state = 'indexing' OR (x.state = 'failed' AND x.attempts < ` + a.add(q.MaxAttempts) + `))`
	if q.Before != "" {
		sqlText += ` AND s.id < ` + a.add(q.Before)
	}
	sqlText += ` ORDER BY s.id DESC LIMIT ` + a.add(limit)
	rows, err := s.db.QueryContext(ctx, sqlText, a...)
	if err != nil {
		return nil, fmt.Errorf("unindexed recordings: %w", err)
	}
	defer rows.Close()
	var out []store.UnindexedRecording
	for rows.Next() {
		var r store.UnindexedRecording
		var state, format string
		if err := rows.Scan(&r.SessionID, &format, &state, &r.Attempts); err != nil {
			return nil, fmt.Errorf("unindexed recordings: %w", err)
		}
		r.Format = api.RecordingFormat(format)
		r.Interrupted = state == "indexing"
		out = append(out, r)
	}
	return out, rows.Err()
}

// PurgeReplacedText deletes lines of recordings that were indexed again
// and hidden from search since. The SQLite store has such lines from
// before it kept indexing state; this store kept the state from its first
// schema, replaces a recording's lines in the transaction that indexes it
// again, and so never has any: it deletes nothing.
func (s *Store) PurgeReplacedText(ctx context.Context) (int64, error) {
	return 0, nil
}

// beginText begins an attempt in tx; with replace, also for a recording
// indexed already.
func beginText(ctx context.Context, tx *sql.Tx, sessionID string, replace bool, now time.Time) (store.TextIndexing, bool, error) {
	ti := store.TextIndexing{SessionID: sessionID}
	var state string
	err := tx.QueryRowContext(ctx, `SELECT num, state, attempts FROM recording_text_state WHERE session_id = $1 FOR UPDATE`, sessionID).
		Scan(&ti.Num, &state, &ti.Attempt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Two nodes beginning at once: the second waits on the unique
		// session_id, then does nothing, and reads the first one's row.
		var inserted bool
		err = tx.QueryRowContext(ctx, `WITH ins AS (
				INSERT INTO recording_text_state (session_id, state, attempts, updated_at) VALUES ($1, 'indexing', 1, $2)
				ON CONFLICT (session_id) DO NOTHING RETURNING num)
			SELECT num, true FROM ins`, sessionID, nanos(now)).Scan(&ti.Num, &inserted)
		if errors.Is(err, sql.ErrNoRows) {
			return beginText(ctx, tx, sessionID, replace, now)
		}
		if isForeignKey(err) {
			return store.TextIndexing{}, false, fmt.Errorf("session %s: %w", sessionID, store.ErrNotFound)
		}
		if err != nil {
			return store.TextIndexing{}, false, err
		}
		ti.Attempt = 1
		return ti, true, nil
	case err != nil:
		return store.TextIndexing{}, false, err
	case state == "done" && !replace:
		return store.TextIndexing{}, false, nil
	}
	ti.Attempt++
	if _, err := tx.ExecContext(ctx, `UPDATE recording_text_state SET state = 'indexing', attempts = $1, lines = 0, error = '', updated_at = $2
		WHERE num = $3`, ti.Attempt, nanos(now), ti.Num); err != nil {
		return store.TextIndexing{}, false, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM recording_text WHERE num = $1`, ti.Num); err != nil {
		return store.TextIndexing{}, false, err
	}
	return ti, true, nil
}

// checkAttempt locks the recording's state and fails when ti is no longer
// its current attempt (another one began, or it was ended).
func checkAttempt(ctx context.Context, tx *sql.Tx, ti *store.TextIndexing) error {
	var state string
	var attempts int
	err := tx.QueryRowContext(ctx, `SELECT state, attempts FROM recording_text_state WHERE num = $1 AND session_id = $2 FOR UPDATE`,
		ti.Num, ti.SessionID).Scan(&state, &attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	if state != "indexing" || attempts != ti.Attempt {
		return fmt.Errorf("%w: attempt %d is not the current one (state %s, attempt %d)", store.ErrConflict, ti.Attempt, state, attempts)
	}
	return nil
}

// textChunk is how many lines one INSERT of insertText writes (× 7
// parameters).
const textChunk = 1000

// insertText inserts lines at the attempt's next positions (the caller
// advances ti.Lines once the transaction committed).
func insertText(ctx context.Context, tx *sql.Tx, ti *store.TextIndexing, lines []store.TextLine) error {
	return sqlstore.InsertChunks(ctx, sqlstore.NewTx(tx, dialect), len(lines), textChunk,
		`INSERT INTO recording_text (num, pos, session_id, kind, t, line, words) VALUES `, 7,
		func(i int) []any {
			l := lines[i]
			text := validText(l.Text)
			return []any{ti.Num, ti.Lines + int64(i), ti.SessionID, kindOf(l.Input), l.At.Milliseconds(), text, lineVector(text)}
		})
}

// finishText inserts the last lines and marks the recording done, in tx.
func finishText(ctx context.Context, tx *sql.Tx, ti *store.TextIndexing, lines []store.TextLine, now time.Time) error {
	if err := insertText(ctx, tx, ti, lines); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE recording_text_state SET state = 'done', lines = $1, error = '', updated_at = $2 WHERE num = $3`,
		ti.Lines+int64(len(lines)), nanos(now), ti.Num)
	return err
}
