package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// BulkInsertSessions inserts sessions in any state, with their timelines
// as given (an empty timeline gets the "created" event), in one
// transaction of multi-row INSERTs. It is for imports, seeding and
// benchmarks: unlike CreateSession it does not require pending, and it
// writes thousands of sessions per transaction. Ids must be canonical
// UUIDv7 (store.ErrInvalid otherwise); a taken id is store.ErrConflict and
// nothing is inserted. The dialect sets the rows per INSERT and its verb.
func (s *Core) BulkInsertSessions(ctx context.Context, sessions []api.Session) error {
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
	err := s.InTx(ctx, func(tx Tx) error {
		err := InsertChunks(ctx, tx, len(rows), s.d.BulkSessionRows,
			s.d.BulkInsert+` INTO sessions (`+sessionCols+`) VALUES `, numSessionCols,
			func(i int) []any { return sessionArgs(&rows[i]) })
		if s.d.IsUnique(err) {
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
		return InsertChunks(ctx, tx, len(events), s.d.BulkTimelineRows,
			s.d.BulkInsert+` INTO session_timeline (session_id, n, time, event, status, actor, detail) VALUES `, 7,
			func(i int) []any {
				e := events[i]
				return []any{e.id, e.n, Nanos(e.e.Time), e.e.Event, string(e.e.Status), e.e.Actor, e.e.Detail}
			})
	})
	if err != nil {
		return fmt.Errorf("bulk insert sessions: %w", err)
	}
	return nil
}

// InsertChunks inserts n rows, chunk rows per statement (prepared once for
// full chunks), where row(i) gives the cols values of row i.
func InsertChunks(ctx context.Context, tx Tx, n, chunk int, prefix string, cols int, row func(i int) []any) error {
	values := func(k int) string {
		one := "(" + Placeholders(cols) + ")"
		return prefix + strings.TrimSuffix(strings.Repeat(one+", ", k), ", ")
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
