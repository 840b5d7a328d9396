package sqlstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Page sizes of ListSessions.
const (
	DefaultSessionLimit = 50
	MaxSessionLimit     = 1000
)

// maxBranches bounds how many equality branches a list query is split
// into (see SessionQuery).
const maxBranches = 32

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
	q, args, err := s.d.SessionQuery(f, limit+1)
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

// dimension is one any-of filter on a column.
type dimension struct {
	col    string
	values []string
}

// SessionQuery writes the SQL of one page of f with fetch rows, selecting
// SessionCols.
//
// A filter "status IN (a, b)" cannot be served in id order by the index
// (status, id): the database would read every matching row and sort
// them. So the query is split into one branch per value of its driving
// filters (user × status, user, resource × status, resource, status ×
// type, status or type, the first that applies), each branch
// "col = v ... ORDER BY id DESC LIMIT fetch" — a backward scan of the
// (col..., id) index that stops after fetch rows — and the branches are
// merged by UNION ALL, sorting at most branches × fetch rows. The other
// filters are conditions on each branch. With single values there is one
// branch and no sort at all. A value used by every branch is one
// parameter where placeholders are numbered (see Args).
func (d Dialect) SessionQuery(f store.SessionFilter, fetch int) (string, []any, error) {
	statuses := make([]string, 0, len(f.Statuses))
	for _, st := range f.Statuses {
		if !st.Valid() {
			return "", nil, fmt.Errorf("%w: unknown session status %q", store.ErrInvalid, st)
		}
		statuses = append(statuses, string(st))
	}
	types := make([]string, 0, len(f.Types))
	for _, t := range f.Types {
		if !t.Valid() {
			return "", nil, fmt.Errorf("%w: unknown session type %q", store.ErrInvalid, t)
		}
		types = append(types, string(t))
	}
	dims := []dimension{
		{"status", dedupe(statuses)},
		{"type", dedupe(types)},
		{"user_name", dedupe(f.Users)},
		{"resource", dedupe(f.Resources)},
	}

	a := d.NewArgs()
	// Id and time bounds, common to every branch.
	var common []Frag
	if !f.Since.IsZero() {
		common = append(common, a.Frag(`id >= ?`, store.IDLowerBound(f.Since)), a.Frag(`created_at >= ?`, Nanos(f.Since)))
	}
	upper := ""
	if !f.Until.IsZero() {
		// The id bound is the end of until's millisecond; created_at
		// makes the cut exact.
		upper = store.IDLowerBound(f.Until.Add(time.Millisecond - time.Nanosecond))
		common = append(common, a.Frag(`created_at < ?`, Nanos(f.Until)))
	}
	if f.Cursor != "" {
		after, err := DecodeCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		if upper == "" || after < upper {
			upper = after
		}
	}
	if upper != "" {
		common = append(common, a.Frag(`id < ?`, upper))
	}
	limit := a.Frag(`?`, fetch)

	// Choose the driving dimensions (split into branches) and the index
	// that serves them in id order. Users and resources are far more
	// selective than statuses and types, so they drive when given (with
	// the status too when the (user|resource, status, id) index applies);
	// otherwise status and type drive.
	n := func(i int) int { return len(dims[i].values) }
	var (
		drive []int
		index string
	)
	switch {
	case n(2) > 0 && n(0) > 0 && n(2)*n(0) <= maxBranches:
		drive, index = []int{2, 0}, "sessions_user_status"
	case n(2) > 0 && n(2) <= maxBranches:
		drive, index = []int{2}, "sessions_user"
	case n(3) > 0 && n(0) > 0 && n(3)*n(0) <= maxBranches:
		drive, index = []int{3, 0}, "sessions_resource_status"
	case n(3) > 0 && n(3) <= maxBranches:
		drive, index = []int{3}, "sessions_resource"
	case n(0) > 0 && n(1) > 0 && n(0)*n(1) <= maxBranches:
		drive, index = []int{0, 1}, "sessions_status_type"
	case n(0) > 0 && n(0) <= maxBranches:
		drive, index = []int{0}, "sessions_status"
	case n(1) > 0 && n(1) <= maxBranches:
		drive, index = []int{1}, "sessions_type"
	}
	isDrive := map[int]bool{}
	for _, i := range drive {
		isDrive[i] = true
	}
	// Residual conditions: the non-driving dimensions.
	var resid []Frag
	for i, dim := range dims {
		if isDrive[i] || len(dim.values) == 0 {
			continue
		}
		if len(dim.values) == 1 {
			resid = append(resid, a.Frag(dim.col+` = ?`, dim.values[0]))
		} else {
			cond, vals := d.In(dim.col, dim.values)
			resid = append(resid, a.Frag(cond, vals...))
		}
	}
	// Branches: the cartesian product of the driving dimensions' values.
	eq := make(map[int][]Frag, len(drive))
	for _, i := range drive {
		for _, v := range dims[i].values {
			eq[i] = append(eq[i], a.Frag(dims[i].col+` = ?`, v))
		}
	}
	combos := [][]Frag{{}}
	for _, i := range drive {
		var next [][]Frag
		for _, c := range combos {
			for _, e := range eq[i] {
				next = append(next, append(append([]Frag{}, c...), e))
			}
		}
		combos = next
	}
	branches := make([]string, 0, len(combos))
	for _, c := range combos {
		conds := make([]string, 0, len(c)+len(resid)+len(common))
		for _, fr := range append(append(append([]Frag{}, c...), resid...), common...) {
			conds = append(conds, a.Use(fr))
		}
		q := `SELECT ` + sessionCols + ` FROM sessions`
		if d.IndexedBy && index != "" {
			// The plan is decided here, not left to the planner's
			// statistics: an ordered scan of the driving index.
			q += ` INDEXED BY ` + index
		}
		if len(conds) > 0 {
			q += ` WHERE ` + strings.Join(conds, ` AND `)
		}
		q += ` ORDER BY id DESC LIMIT ` + a.Use(limit)
		branches = append(branches, q)
	}
	if len(branches) == 1 {
		return branches[0], a.Values(), nil
	}
	for i, b := range branches {
		branches[i] = d.UnionBranch(b)
	}
	return strings.Join(branches, ` UNION ALL `) + ` ORDER BY id DESC LIMIT ` + a.Use(limit), a.Values(), nil
}

// dedupe returns vs without repeats, in first-seen order.
func dedupe(vs []string) []string {
	seen := make(map[string]bool, len(vs))
	out := vs[:0:0]
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
