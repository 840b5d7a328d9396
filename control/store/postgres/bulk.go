package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Rows per multi-row INSERT of BulkInsertSessions (a statement takes at
// most 65535 parameters).
const (
	bulkSessionRows  = 500  // × 20 columns
	bulkTimelineRows = 2000 // × 7 columns
)

// BulkInsertSessions inserts sessions in any state, with their timelines
// as given (an empty timeline gets the "created" event), in one
// transaction of multi-row INSERTs. It is for imports, seeding and
// benchmarks: unlike CreateSession it does not require pending, and it
// writes thousands of sessions per transaction. Ids must be canonical
// UUIDv7 (store.ErrInvalid otherwise); a taken id is store.ErrConflict and
// nothing is inserted.
func (s *Store) BulkInsertSessions(ctx context.Context, sessions []api.Session) error {
	type tl struct {
		id string
		n  int
		e  api.TimelineEvent
	}
	var events []tl
	rows := make([]api.Session, len(sessions))
	for i, sess := range sessions {
		if err := prepareSession(&sess); err != nil {
			return fmt.Errorf("bulk insert sessions: session %d: %w", i, err)
		}
		rows[i] = sess
		if len(sess.Timeline) == 0 {
			events = append(events, tl{sess.ID, 1, api.TimelineEvent{Time: sess.CreatedAt, Event: api.EventCreated,
				Status: api.StatusPending, Actor: sess.User}})
		}
		for n, e := range sess.Timeline {
			events = append(events, tl{sess.ID, n + 1, e})
		}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := insertChunks(ctx, tx, len(rows), bulkSessionRows,
			`INSERT INTO sessions (`+sessionCols+`) VALUES `, numSessionCols,
			func(i int) []any { return sessionArgs(&rows[i]) })
		if isUnique(err) {
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
		return insertChunks(ctx, tx, len(events), bulkTimelineRows,
			`INSERT INTO session_timeline (session_id, n, time, event, status, actor, detail) VALUES `, 7,
			func(i int) []any {
				e := events[i]
				return []any{e.id, e.n, nanos(e.e.Time), e.e.Event, string(e.e.Status), e.e.Actor, e.e.Detail}
			})
	})
	if err != nil {
		return fmt.Errorf("bulk insert sessions: %w", err)
	}
	return nil
}

// insertChunks inserts n rows, chunk rows per statement (prepared once for
// full chunks), where row(i) gives the cols values of row i.
func insertChunks(ctx context.Context, tx *sql.Tx, n, chunk int, prefix string, cols int, row func(i int) []any) error {
	values := func(k int) string {
		var b strings.Builder
		b.WriteString(prefix)
		for r := range k {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + placeholders(1+r*cols, cols) + ")")
		}
		return b.String()
	}
	var full *sql.Stmt
	if n >= chunk {
		var err error
		full, err = tx.PrepareContext(ctx, values(chunk))
		if err != nil {
			return err
		}
		defer full.Close()
	}
	args := make([]any, 0, chunk*cols)
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		args = args[:0]
		for i := start; i < end; i++ {
			args = append(args, row(i)...)
		}
		var err error
		if end-start == chunk {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, values(end-start), args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
