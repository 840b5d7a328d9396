package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlstore"
)

// SearchRecordings finds lines matching q.Text as a phrase of whole words
// (see words.go), newest sessions first, in time order within a session.
// Lines of a recording whose indexing is not finished are left out.
func (s *Store) SearchRecordings(ctx context.Context, q store.SearchQuery) ([]store.SearchHit, error) {
	phrase := phraseQuery(q.Text)
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
	kind := sqlstore.TextKind(q.Input)
	var a args
	sqlText := `SELECT r.session_id, r.t, r.line FROM recording_text r
		JOIN recording_text_state x ON x.num = r.num AND x.state = 'done'
		JOIN sessions s ON s.id = r.session_id
		WHERE r.words @@ ` + a.add(phrase) + `::tsquery AND r.kind = ` + a.add(kind)
	if len(q.Types) > 0 {
		types := make([]string, len(q.Types))
		for i, t := range q.Types {
			types[i] = string(t)
		}
		sqlText += ` AND s.type = ANY(` + a.add(types) + `)`
	}
	if len(q.Users) > 0 {
		sqlText += ` AND s.user_name = ANY(` + a.add(q.Users) + `)`
	}
	if !q.Since.IsZero() {
		sqlText += ` AND s.created_at >= ` + a.add(nanos(q.Since))
	}
	sqlText += ` ORDER BY r.session_id DESC, r.t, r.pos LIMIT ` + a.add(limit)
	rows, err := s.db.QueryContext(ctx, sqlText, a...)
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
