package sqlstore

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/google/uuid"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Page sizes of ListSessions.
const (
	DefaultSessionLimit = 50
	MaxSessionLimit     = 1000
)

// ListSessions returns one page of sessions matching f, newest first, with
// their timelines (loaded in one more query for the whole page), and the
// cursor of the next page ("" when this is the last).
//
// Pagination is by keyset on the id: the cursor encodes the last id of the
// page and the next page is "id < cursor". Since and Until become an id
// range (a UUIDv7 starts with its millisecond), refined by created_at, so
// the whole query is a range scan of one index in id order.
func (s *Core) ListSessions(ctx context.Context, f store.SessionFilter) ([]api.Session, string, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultSessionLimit
	case limit < 0 || limit > MaxSessionLimit:
		return nil, "", fmt.Errorf("list sessions: %w: limit %d out of range 1..%d", store.ErrInvalid, limit, MaxSessionLimit)
	}
	q, args, err := s.d.BuildSessionQuery(f, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list sessions: %w", err)
	}
	page, err := s.QuerySessions(ctx, limit, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list sessions: %w", err)
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		next = EncodeCursor(page[limit-1].ID)
	}
	return page, next, nil
}

// EncodeCursor returns the cursor that continues a listing after the
// session id (URL-safe base64 of the id's 16 bytes).
func EncodeCursor(id string) string {
	u, err := uuid.Parse(id)
	if err != nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(u[:])
}

// DecodeCursor returns the id a cursor continues after; the error wraps
// store.ErrInvalid.
func DecodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 16 {
		return "", fmt.Errorf("%w: malformed cursor %q (pass the next_cursor of a previous page)", store.ErrInvalid, c)
	}
	id := uuid.UUID(b).String()
	if err := store.ValidateID(id); err != nil {
		return "", fmt.Errorf("%w: malformed cursor %q (pass the next_cursor of a previous page)", store.ErrInvalid, c)
	}
	return id, nil
}
