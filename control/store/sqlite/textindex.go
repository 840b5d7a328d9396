package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlstore"
)

// The shared store (sqlstore.Core) indexes a recording's text in steps
// that survive a control stopped half-way (migration 0006). What is this
// store's own is where the lines are kept and how they are searched: in
// the FTS5 table recording_text (see ftsQuery), a recording's lines at the rowids num<<textShift +
// position, num being its row in recording_text_state; lines indexed
// before migration 0006 have smaller rowids (below legacyRowids), and
// PurgeReplacedText deletes those of recordings indexed again since (a
// search shows each line once, see visibleText).

// textIndex is this store's recording text for the shared store.
var textIndex = sqlstore.TextIndex{
	Lines: func(num int64) (string, []any) {
		lo, hi := textRange(num)
		return `rowid >= ? AND rowid < ?`, []any{lo, hi}
	},
	Insert: insertText,
	MaxNum: 1 << (63 - textShift),
	// A recording that may have lines from before migration 0006 counts
	// as replaced (for PurgeReplacedText).
	Done:  `UPDATE recording_text_legacy SET replaced = replaced + 1 WHERE ? <= last_session`,
	Query: ftsQuery,
	From: `recording_text r JOIN sessions s ON s.id = r.session_id
		LEFT JOIN recording_text_state x ON x.session_id = r.session_id`,
	Match: `recording_text MATCH ? AND ` + visibleText,
	Order: `r.session_id DESC, r.t`,
}

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

// insertText inserts lines at the attempt's next positions.
func insertText(ctx context.Context, tx sqlstore.Tx, ti *store.TextIndexing, lines []store.TextLine) error {
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
		if _, err := stmt.ExecContext(rowCtx, base+ti.Lines+int64(i), l.Text, ti.SessionID, sqlstore.TextKind(l.Input), l.At.Milliseconds()); err != nil {
			return err
		}
	}
	return nil
}
