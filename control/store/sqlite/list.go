package sqlite

import (
	"fmt"
	"strings"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlstore"
)

// Page sizes of ListSessions.
const (
	DefaultSessionLimit = sqlstore.DefaultSessionLimit
	MaxSessionLimit     = sqlstore.MaxSessionLimit
)

// maxBranches bounds how many equality branches a list query is split
// into (see buildSessionQuery).
const maxBranches = 32

// EncodeCursor returns the cursor that continues a listing after the
// session id (URL-safe base64 of the id's 16 bytes).
func EncodeCursor(id string) string { return sqlstore.EncodeCursor(id) }

// DecodeCursor returns the id a cursor continues after; the error wraps
// store.ErrInvalid.
func DecodeCursor(c string) (string, error) { return sqlstore.DecodeCursor(c) }

// dimension is one any-of filter on a column.
type dimension struct {
	col    string
	values []string
}

// buildSessionQuery writes the SQL of one page of f with fetch rows.
//
// A filter "status IN (a, b)" cannot be served in id order by the index
// (status, id) — SQLite would read every matching row and sort them. So
// the query is split into one branch per value of its driving filters
// (user × status, user, resource × status, resource, status × type,
// status or type, the first that applies), each branch
// "col = v ... ORDER BY id DESC LIMIT fetch" — an ordered scan of one
// index that stops after fetch rows — and the branches are merged by
// UNION ALL, sorting at most branches × fetch rows. The other filters are
// conditions on each branch. With single values there is one branch and
// no sort at all.
func buildSessionQuery(f store.SessionFilter, fetch int) (string, []any, error) {
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

	// Id and time bounds, common to every branch.
	var (
		common []string
		cargs  []any
	)
	if !f.Since.IsZero() {
		common = append(common, `id >= ?`, `created_at >= ?`)
		cargs = append(cargs, store.IDLowerBound(f.Since), nanos(f.Since))
	}
	upper := ""
	if !f.Until.IsZero() {
		// The id bound is the end of until's millisecond; created_at
		// makes the cut exact.
		upper = store.IDLowerBound(f.Until.Add(time.Millisecond - time.Nanosecond))
		common = append(common, `created_at < ?`)
		cargs = append(cargs, nanos(f.Until))
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
		common = append(common, `id < ?`)
		cargs = append(cargs, upper)
	}

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
	var (
		resid []string
		rargs []any
	)
	for i, d := range dims {
		if isDrive[i] || len(d.values) == 0 {
			continue
		}
		if len(d.values) == 1 {
			resid = append(resid, d.col+` = ?`)
		} else {
			resid = append(resid, d.col+` IN (`+placeholders(len(d.values))+`)`)
		}
		for _, v := range d.values {
			rargs = append(rargs, v)
		}
	}
	// Branches: the cartesian product of the driving dimensions' values.
	combos := [][]string{{}}
	for _, i := range drive {
		var next [][]string
		for _, c := range combos {
			for _, v := range dims[i].values {
				next = append(next, append(append([]string{}, c...), v))
			}
		}
		combos = next
	}
	var (
		branches []string
		args     []any
	)
	for _, c := range combos {
		conds := make([]string, 0, len(drive)+len(resid)+len(common))
		for k, i := range drive {
			conds = append(conds, dims[i].col+` = ?`)
			args = append(args, c[k])
		}
		conds = append(conds, resid...)
		args = append(args, rargs...)
		conds = append(conds, common...)
		args = append(args, cargs...)
		q := `SELECT ` + sessionCols + ` FROM sessions`
		if index != "" {
			// The plan is decided here, not left to the planner's
			// statistics: an ordered scan of the driving index.
			q += ` INDEXED BY ` + index
		}
		if len(conds) > 0 {
			q += ` WHERE ` + strings.Join(conds, ` AND `)
		}
		q += ` ORDER BY id DESC LIMIT ?`
		args = append(args, fetch)
		branches = append(branches, q)
	}
	if len(branches) == 1 {
		return branches[0], args, nil
	}
	for i, b := range branches {
		branches[i] = `SELECT * FROM (` + b + `)`
	}
	args = append(args, fetch)
	return strings.Join(branches, ` UNION ALL `) + ` ORDER BY id DESC LIMIT ?`, args, nil
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
