package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/onepam/onepam/control/store"
)

// SearchRecordings finds lines matching q.Text as a phrase of whole words,
// newest sessions first, in time order within a session. Lines of a
// recording whose indexing is not finished are left out, and so are the
// lines indexed before migration 6 of a recording indexed again since
// (see visibleText).
func (s *Store) SearchRecordings(ctx context.Context, q store.SearchQuery) ([]store.SearchHit, error) {
	phrase := ftsPhrase(q.Text)
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
	kind := "o"
	if q.Input {
		kind = "i"
	}
	sqlText := `SELECT r.session_id, r.t, r.line FROM recording_text r JOIN sessions s ON s.id = r.session_id
		LEFT JOIN recording_text_state x ON x.session_id = r.session_id
		WHERE recording_text MATCH ? AND r.kind = ? AND ` + visibleText
	args := []any{`line : ` + phrase, kind}
	if len(q.Types) > 0 {
		sqlText += ` AND s.type IN (?` + strings.Repeat(`, ?`, len(q.Types)-1) + `)`
		for _, t := range q.Types {
			args = append(args, string(t))
		}
	}
	if len(q.Users) > 0 {
		sqlText += ` AND s.user_name IN (?` + strings.Repeat(`, ?`, len(q.Users)-1) + `)`
		for _, u := range q.Users {
			args = append(args, u)
		}
	}
	if !q.Since.IsZero() {
		sqlText += ` AND s.created_at >= ?`
		args = append(args, nanos(q.Since))
	}
	sqlText += ` ORDER BY r.session_id DESC, r.t LIMIT ?`
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, sqlText, args...)
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

// ftsPhrase turns free text into an FTS5 phrase: the words in order, each
// quoted, so that no character of the person's text is FTS5 syntax.
func ftsPhrase(text string) string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127)
	})
	if len(words) == 0 {
		return ""
	}
	for i, w := range words {
		words[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	return strings.Join(words, " + ")
}
