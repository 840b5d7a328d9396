package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// The methods of this file index a recording's text in steps that
// survive a control stopped half-way (migration 0006): an attempt begins
// (deleting what an unfinished one left), adds lines in batches, and
// finishes with its last lines and the state 'done' in one transaction.
// They are not part of store.Store: control/recordings declares what it
// needs.
//
// A recording's lines have the rowids num<<textShift + position in
// recording_text, num being its row in recording_text_state; lines
// indexed before migration 0006 have smaller rowids (below legacyRowids).

const (
	textShift    = 32
	legacyRowids = int64(1) << textShift
	// purgeWindow is how many rowids one transaction of PurgeReplacedText
	// covers.
	purgeWindow = 4096
)

// visibleText is the search condition (on recording_text r LEFT JOIN
// recording_text_state x) that keeps each line once: a recording's lines
// once it is done, and the lines from before migration 0006 only while
// their recording is not indexed again.
const visibleText = `CASE WHEN r.rowid < 4294967296 THEN x.state IS NOT 'done' ELSE x.state = 'done' END`

// textRange is the rowid range of recording num's lines.
func textRange(num int64) (lo, hi int64) { return num << textShift, (num + 1) << textShift }

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
// searchable, and they replace any lines it had from before migration
// 0006.
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
		err := tx.QueryRowContext(ctx, `SELECT num, state FROM recording_text_state WHERE session_id = ?`, sessionID).Scan(&num, &state)
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
			upd = `UPDATE recording_text_state SET state = 'failed', attempts = MAX(attempts - 1, 0), error = ?, updated_at = ? WHERE num = ?`
		}
		if _, err := tx.ExecContext(ctx, upd, reason, nanos(s.cfg.now()), num); err != nil {
			return err
		}
		lo, hi := textRange(num)
		_, err = tx.ExecContext(ctx, `DELETE FROM recording_text WHERE rowid >= ? AND rowid < ?`, lo, hi)
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
	sqlText := `SELECT s.id, s.rec_format, COALESCE(x.state, ''), COALESCE(x.attempts, 0)
		FROM sessions s LEFT JOIN recording_text_state x ON x.session_id = s.id
		WHERE s.rec_state IN (?, ?) AND s.rec_format IN (?` + strings.Repeat(`, ?`, len(q.Formats)-1) + `)
		AND (x.state IS NULL OR x.state = 'indexing' OR (x.state = 'failed' AND x.attempts < ?))`
	args := []any{string(api.RecordingComplete), string(api.RecordingPartial)}
	for _, f := range q.Formats {
		args = append(args, string(f))
	}
	args = append(args, q.MaxAttempts)
	if q.Before != "" {
		sqlText += ` AND s.id < ?`
		args = append(args, q.Before)
	}
	sqlText += ` ORDER BY s.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("unindexed recordings: %w", err)
	}
	defer rows.Close()
	var out []store.UnindexedRecording
	for rows.Next() {
		var r store.UnindexedRecording
		var state string
		if err := rows.Scan(&r.SessionID, &r.Format, &state, &r.Attempts); err != nil {
			return nil, fmt.Errorf("unindexed recordings: %w", err)
		}
		r.Interrupted = state == "indexing"
		out = append(out, r)
	}
	return out, rows.Err()
}

// PurgeReplacedText deletes the lines indexed before migration 0006 of
// the recordings indexed again since (hidden from search from then on),
// one window of rowids per transaction so that other writers get their
// turns. It does nothing when no recording was indexed again since the
// last complete purge, and returns the number of lines deleted.
func (s *Store) PurgeReplacedText(ctx context.Context) (int64, error) {
	var replaced, purged int64
	if err := s.read.QueryRowContext(ctx, `SELECT replaced, purged FROM recording_text_legacy`).Scan(&replaced, &purged); err != nil {
		return 0, fmt.Errorf("purge replaced recording text: %w", err)
	}
	if replaced == purged {
		return 0, nil
	}
	var top int64
	err := s.read.QueryRowContext(ctx, `SELECT rowid FROM recording_text WHERE rowid < ? ORDER BY rowid DESC LIMIT 1`, legacyRowids).Scan(&top)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("purge replaced recording text: %w", err)
	}
	var deleted int64
	for lo := int64(0); lo <= top; lo += purgeWindow {
		res, err := s.write.ExecContext(ctx, `DELETE FROM recording_text WHERE rowid >= ? AND rowid < ?
			AND EXISTS (SELECT 1 FROM recording_text_state x WHERE x.session_id = recording_text.session_id AND x.state = 'done')`,
			lo, min(lo+purgeWindow, legacyRowids))
		if err != nil {
			return deleted, fmt.Errorf("purge replaced recording text: %w", err)
		}
		n, _ := res.RowsAffected()
		deleted += n
	}
	if _, err := s.write.ExecContext(ctx, `UPDATE recording_text_legacy SET purged = ? WHERE purged < ?`, replaced, replaced); err != nil {
		return deleted, fmt.Errorf("purge replaced recording text: %w", err)
	}
	return deleted, nil
}

// beginText begins an attempt in tx; with replace, also for a recording
// indexed already.
func beginText(ctx context.Context, tx *sql.Tx, sessionID string, replace bool, now time.Time) (store.TextIndexing, bool, error) {
	ti := store.TextIndexing{SessionID: sessionID}
	var state string
	err := tx.QueryRowContext(ctx, `SELECT num, state, attempts FROM recording_text_state WHERE session_id = ?`, sessionID).
		Scan(&ti.Num, &state, &ti.Attempt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		ti.Attempt = 1
		err = tx.QueryRowContext(ctx, `INSERT INTO recording_text_state (session_id, state, attempts, updated_at)
			VALUES (?, 'indexing', 1, ?) RETURNING num`, sessionID, nanos(now)).Scan(&ti.Num)
		if err != nil {
			return store.TextIndexing{}, false, err
		}
		if ti.Num >= 1<<(63-textShift) {
			return store.TextIndexing{}, false, fmt.Errorf("recording number %d out of range", ti.Num)
		}
		return ti, true, nil
	case err != nil:
		return store.TextIndexing{}, false, err
	case state == "done" && !replace:
		return store.TextIndexing{}, false, nil
	}
	ti.Attempt++
	if _, err := tx.ExecContext(ctx, `UPDATE recording_text_state SET state = 'indexing', attempts = ?, lines = 0, error = '', updated_at = ?
		WHERE num = ?`, ti.Attempt, nanos(now), ti.Num); err != nil {
		return store.TextIndexing{}, false, err
	}
	lo, hi := textRange(ti.Num)
	if _, err := tx.ExecContext(ctx, `DELETE FROM recording_text WHERE rowid >= ? AND rowid < ?`, lo, hi); err != nil {
		return store.TextIndexing{}, false, err
	}
	return ti, true, nil
}

// checkAttempt fails when ti is no longer the recording's current
// attempt (another one began, or it was ended).
func checkAttempt(ctx context.Context, tx *sql.Tx, ti *store.TextIndexing) error {
	var state string
	var attempts int
	err := tx.QueryRowContext(ctx, `SELECT state, attempts FROM recording_text_state WHERE num = ? AND session_id = ?`,
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

// insertText inserts lines at the attempt's next positions (the caller
// advances ti.Lines once the transaction committed).
func insertText(ctx context.Context, tx *sql.Tx, ti *store.TextIndexing, lines []store.TextLine) error {
	if len(lines) == 0 {
		return nil
	}
	if ti.Lines+int64(len(lines)) > legacyRowids {
		return fmt.Errorf("%w: more than %d lines", store.ErrInvalid, legacyRowids)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO recording_text (rowid, line, session_id, kind, t) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	base, _ := textRange(ti.Num)
	// The rows go in without ctx's cancellation: the driver watches a
	// cancellable context with a goroutine per statement, which cost a
	// quarter of the indexing's CPU; ctx still ends the transaction.
	rowCtx := context.WithoutCancel(ctx)
	for i, l := range lines {
		kind := "o"
		if l.Input {
			kind = "i"
		}
		if _, err := stmt.ExecContext(rowCtx, base+ti.Lines+int64(i), l.Text, ti.SessionID, kind, l.At.Milliseconds()); err != nil {
			return err
		}
	}
	return nil
}

// finishText inserts the last lines and marks the recording done, in tx;
// a recording that may have lines from before migration 0006 counts as
// replaced (for PurgeReplacedText).
func finishText(ctx context.Context, tx *sql.Tx, ti *store.TextIndexing, lines []store.TextLine, now time.Time) error {
	if err := insertText(ctx, tx, ti, lines); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE recording_text_state SET state = 'done', lines = ?, error = '', updated_at = ? WHERE num = ?`,
		ti.Lines+int64(len(lines)), nanos(now), ti.Num); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE recording_text_legacy SET replaced = replaced + 1 WHERE ? <= last_session`, ti.SessionID)
	return err
}
