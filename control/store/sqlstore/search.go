package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/onepam/onepam/control/store"
)

// SearchRecordings finds lines matching q.Text as a phrase of whole words
// (as the dialect's TextIndex splits them), newest sessions first, in
// time order within a session. Lines of a recording whose indexing is not
// finished are left out.
func (c *Core) SearchRecordings(ctx context.Context, q store.SearchQuery) ([]store.SearchHit, error) {
	phrase := c.d.Text.Query(q.Text)
	if phrase == "" {
		return nil, fmt.Errorf("search: %w: no words to search for", store.ErrInvalid)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 1000 {
		limit = 1000
	}
	sqlText := `SELECT r.session_id, r.t, r.line FROM ` + c.d.Text.From + `
		WHERE ` + c.d.Text.Match + ` AND r.kind = ?`
	args := []any{phrase, TextKind(q.Input)}
	if len(q.Types) > 0 {
		types := make([]string, len(q.Types))
		for i, t := range q.Types {
			types[i] = string(t)
		}
		cond, a := c.d.In(`s.type`, types)
		sqlText += ` AND ` + cond
		args = append(args, a...)
	}
	if len(q.Users) > 0 {
		cond, a := c.d.In(`s.user_name`, q.Users)
		sqlText += ` AND ` + cond
		args = append(args, a...)
	}
	if !q.Since.IsZero() {
		sqlText += ` AND s.created_at >= ?`
		args = append(args, Nanos(q.Since))
	}
	sqlText += ` ORDER BY ` + c.d.Text.Order + ` LIMIT ?`
	args = append(args, limit)
	rows, err := c.read.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("search recordings: %w", err)
	}
	defer rows.Close()
	hits := []store.SearchHit{}
	for rows.Next() {
		var h store.SearchHit
		var ms int64
		if err := rows.Scan(&h.SessionID, &ms, &h.Line); err != nil {
			return nil, fmt.Errorf("search recordings: %w", err)
		}
		h.Input = q.Input
		h.At = time.Duration(ms) * time.Millisecond
		hits = append(hits, h)
	}
	return hits, rows.Err()
}
