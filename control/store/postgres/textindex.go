package postgres

import (
	"context"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlstore"
)

// The shared store (sqlstore.Core) indexes a recording's text in steps
// that survive a control stopped half-way, locking the recording's state
// row at each step (FOR UPDATE) so that steps of attempts on several
// control nodes are serialised. What is this store's own is how the lines
// are kept: a recording's lines are the rows of recording_text with its
// num (its row in recording_text_state), at positions 0, 1, ..., each
// with the tsvector of its words (see words.go); a search is a phrase
// tsquery of the words, matched against the lines of indexed recordings.

// textIndex is this store's recording text for the shared store.
var textIndex = sqlstore.TextIndex{
	Lines: func(num int64) (string, []any) {
		return `num = ?`, []any{num}
	},
	Insert: insertText,
	Query:  phraseQuery,
	From: `recording_text r
		JOIN recording_text_state x ON x.num = r.num AND x.state = 'done'
		JOIN sessions s ON s.id = r.session_id`,
	Match: `r.words @@ ?::tsquery`,
	Order: `r.session_id DESC, r.t, r.pos`,
}

// PurgeReplacedText deletes lines of recordings that were indexed again
// and hidden from search since. The SQLite store has such lines from
// before it kept indexing state; this store kept the state from its first
// schema, replaces a recording's lines in the transaction that indexes it
// again, and so never has any: it deletes nothing.
func (s *Store) PurgeReplacedText(ctx context.Context) (int64, error) {
	return 0, nil
}

// textChunk is how many lines one INSERT of insertText writes (× 7
// parameters).
const textChunk = 1000

// insertText inserts lines at the attempt's next positions.
func insertText(ctx context.Context, tx sqlstore.Tx, ti *store.TextIndexing, lines []store.TextLine) error {
	return sqlstore.InsertChunks(ctx, tx, len(lines), textChunk,
		`INSERT INTO recording_text (num, pos, session_id, kind, t, line, words) VALUES `, 7,
		func(i int) []any {
			l := lines[i]
			text := validText(l.Text)
			return []any{ti.Num, ti.Lines + int64(i), ti.SessionID, sqlstore.TextKind(l.Input), l.At.Milliseconds(), text, lineVector(text)}
		})
}
