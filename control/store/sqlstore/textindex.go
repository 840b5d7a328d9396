package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// The methods of this file index a recording's text in steps that
// survive a control stopped half-way: an attempt begins (deleting what an
// unfinished one left), adds lines in batches, and finishes with its last
// lines and the state 'done' in one transaction. They are not part of
// store.Store: control/recordings declares what it needs.
//
// A recording is a row of recording_text_state (its num, state and
// attempts); where its lines are kept, and how they are found by their
// words, is the dialect's TextIndex. Each step locks the recording's
// state row (ForUpdate), so steps of attempts on several control nodes
// are serialised.

// TextIndex is how one database keeps the lines of recording text
// (table recording_text) and searches them.
type TextIndex struct {
	// Lines returns the condition on recording_text that selects the
	// lines of recording num, and its arguments.
	Lines func(num int64) (string, []any)
	// Insert inserts lines in tx at the next positions of attempt ti
	// (ti.Lines, ti.Lines+1, ...); the caller advances ti.Lines once the
	// transaction committed.
	Insert func(ctx context.Context, tx Tx, ti *store.TextIndexing, lines []store.TextLine) error
	// MaxNum bounds the recording numbers the lines' keys can hold (0: no
	// bound).
	MaxNum int64
	// Done is a statement run with the session id in the transaction
	// that marks a recording indexed ("" for none).
	Done string

	// Query turns a person's free text into the argument of Match: a
	// phrase of its words ("" when it has none).
	Query func(text string) string
	// From is the FROM clause of a search: recording_text r, sessions s
	// (s.id = r.session_id) and recording_text_state x.
	From string
	// Match is the search condition: the line matches the phrase of the
	// one placeholder, and is searchable (its recording is indexed).
	Match string
	// Order is the ORDER BY of a search's hits: newest session first, in
	// time order within a session.
	Order string
}

// TextKind is the kind column of a line: "i" for input, "o" for output.
func TextKind(input bool) string {
	if input {
		return "i"
	}
	return "o"
}

// BeginRecordingText begins an attempt at indexing a session's recording
// text: it deletes the lines an unfinished attempt left and counts the
// attempt. ok is false when the recording is indexed already.
func (c *Core) BeginRecordingText(ctx context.Context, sessionID string) (ti store.TextIndexing, ok bool, err error) {
	err = c.InTx(ctx, func(tx Tx) error {
		ti, ok, err = c.beginText(ctx, tx, sessionID, false)
		return err
	})
	if err != nil {
		return store.TextIndexing{}, false, fmt.Errorf("begin indexing the recording text of session %s: %w", sessionID, err)
	}
	return ti, ok, nil
}

// AddRecordingText adds lines to an attempt (one transaction). They are
// not searchable before FinishRecordingText.
func (c *Core) AddRecordingText(ctx context.Context, ti *store.TextIndexing, lines []store.TextLine) error {
	if len(lines) == 0 {
		return nil
	}
	err := c.InTx(ctx, func(tx Tx) error {
		if err := c.checkAttempt(ctx, tx, ti); err != nil {
			return err
		}
		return c.d.Text.Insert(ctx, tx, ti, lines)
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
func (c *Core) FinishRecordingText(ctx context.Context, ti *store.TextIndexing, lines []store.TextLine) error {
	err := c.InTx(ctx, func(tx Tx) error {
		if err := c.checkAttempt(ctx, tx, ti); err != nil {
			return err
		}
		return c.finishText(ctx, tx, ti, lines)
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
func (c *Core) FailRecordingText(ctx context.Context, sessionID string, f store.TextFailure, reason string) error {
	err := c.InTx(ctx, func(tx Tx) error {
		var num int64
		var state string
		err := tx.QueryRowContext(ctx, `SELECT num, state FROM recording_text_state WHERE session_id = ?`+c.d.ForUpdate,
			sessionID).Scan(&num, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil || state == "done" {
			return err
		}
		upd := `UPDATE recording_text_state SET state = 'failed', error = ?, updated_at = ? WHERE num = ?`
		switch f {
		case store.TextMissing:
			upd = `UPDATE recording_text_state SET state = 'missing', error = ?, updated_at = ? WHERE num = ?`
		case store.TextInterrupted:
			upd = `UPDATE recording_text_state SET state = 'failed', attempts = ` + c.d.Greatest + `(attempts - 1, 0), error = ?, updated_at = ? WHERE num = ?`
		}
		if _, err := tx.ExecContext(ctx, upd, reason, Nanos(c.now()), num); err != nil {
			return err
		}
		return c.deleteText(ctx, tx, num)
	})
	if err != nil {
		return fmt.Errorf("record the failed indexing of the recording text of session %s: %w", sessionID, err)
	}
	return nil
}

// IndexRecordingText indexes lines as the whole text of a session's
// recording and marks it indexed, in one transaction, replacing whatever
// was indexed for it before: the one-call form of BeginRecordingText and
// FinishRecordingText, for a text small enough for one transaction.
func (c *Core) IndexRecordingText(ctx context.Context, sessionID string, lines []store.TextLine) error {
	err := c.InTx(ctx, func(tx Tx) error {
		ti, _, err := c.beginText(ctx, tx, sessionID, true)
		if err != nil {
			return err
		}
		return c.finishText(ctx, tx, &ti, lines)
	})
	if err != nil {
		return fmt.Errorf("index recording text of session %s: %w", sessionID, err)
	}
	return nil
}

// UnindexedRecordings returns a page of final recordings whose text is
// not indexed (see store.UnindexedQuery), newest session first.
func (c *Core) UnindexedRecordings(ctx context.Context, q store.UnindexedQuery) ([]store.UnindexedRecording, error) {
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
	inFormats, args := c.d.In(`s.rec_format`, formats)
	args = append([]any{string(api.RecordingComplete), string(api.RecordingPartial)}, args...)
	args = append(args, q.MaxAttempts)
	sqlText := `SELECT s.id, s.rec_format, COALESCE(x.state, ''), COALESCE(x.attempts, 0)
		FROM sessions s LEFT JOIN recording_text_state x ON x.session_id = s.id
		WHERE s.rec_state IN (?, ?) AND ` + inFormats + `
		AND (x.state IS NULL OR x.state = 'indexing' OR (x.state = 'failed' AND x.attempts < ?))`
	if q.Before != "" {
		sqlText += ` AND s.id < ?`
		args = append(args, q.Before)
	}
	sqlText += ` ORDER BY s.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := c.read.QueryContext(ctx, sqlText, args...)
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

// beginText begins an attempt in tx; with replace, also for a recording
// indexed already.
func (c *Core) beginText(ctx context.Context, tx Tx, sessionID string, replace bool) (store.TextIndexing, bool, error) {
	ti := store.TextIndexing{SessionID: sessionID}
	var state string
	err := tx.QueryRowContext(ctx, `SELECT num, state, attempts FROM recording_text_state WHERE session_id = ?`+c.d.ForUpdate,
		sessionID).Scan(&ti.Num, &state, &ti.Attempt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Two nodes beginning at once: the second waits on the unique
		// session_id, then inserts nothing, and reads the first one's
		// row.
		err = tx.QueryRowContext(ctx, `INSERT INTO recording_text_state (session_id, state, attempts, updated_at)
			VALUES (?, 'indexing', 1, ?) ON CONFLICT (session_id) DO NOTHING RETURNING num`,
			sessionID, Nanos(c.now())).Scan(&ti.Num)
		if errors.Is(err, sql.ErrNoRows) {
			return c.beginText(ctx, tx, sessionID, replace)
		}
		if c.d.isForeignKey(err) {
			return store.TextIndexing{}, false, fmt.Errorf("session %s: %w", sessionID, store.ErrNotFound)
		}
		if err != nil {
			return store.TextIndexing{}, false, err
		}
		if c.d.Text.MaxNum > 0 && ti.Num >= c.d.Text.MaxNum {
			return store.TextIndexing{}, false, fmt.Errorf("recording number %d out of range", ti.Num)
		}
		ti.Attempt = 1
		return ti, true, nil
	case err != nil:
		return store.TextIndexing{}, false, err
	case state == "done" && !replace:
		return store.TextIndexing{}, false, nil
	}
	ti.Attempt++
	if _, err := tx.ExecContext(ctx, `UPDATE recording_text_state SET state = 'indexing', attempts = ?, lines = 0, error = '', updated_at = ?
		WHERE num = ?`, ti.Attempt, Nanos(c.now()), ti.Num); err != nil {
		return store.TextIndexing{}, false, err
	}
	if err := c.deleteText(ctx, tx, ti.Num); err != nil {
		return store.TextIndexing{}, false, err
	}
	return ti, true, nil
}

// deleteText deletes the lines of recording num in tx.
func (c *Core) deleteText(ctx context.Context, tx Tx, num int64) error {
	cond, args := c.d.Text.Lines(num)
	_, err := tx.ExecContext(ctx, `DELETE FROM recording_text WHERE `+cond, args...)
	return err
}

// checkAttempt locks the recording's state and fails when ti is no longer
// its current attempt (another one began, or it was ended).
func (c *Core) checkAttempt(ctx context.Context, tx Tx, ti *store.TextIndexing) error {
	var state string
	var attempts int
	err := tx.QueryRowContext(ctx, `SELECT state, attempts FROM recording_text_state WHERE num = ? AND session_id = ?`+c.d.ForUpdate,
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

// finishText inserts the last lines and marks the recording done, in tx.
func (c *Core) finishText(ctx context.Context, tx Tx, ti *store.TextIndexing, lines []store.TextLine) error {
	if len(lines) > 0 {
		if err := c.d.Text.Insert(ctx, tx, ti, lines); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE recording_text_state SET state = 'done', lines = ?, error = '', updated_at = ? WHERE num = ?`,
		ti.Lines+int64(len(lines)), Nanos(c.now()), ti.Num); err != nil {
		return err
	}
	if c.d.Text.Done == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, c.d.Text.Done, ti.SessionID)
	return err
}
