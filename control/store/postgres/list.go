package postgres

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
// (status, id): PostgreSQL would read every matching row and sort them.
// So the query is split into one branch per value of its driving filters
// (user × status, user, resource × status, resource, status × type,
// status or type, the first that applies), each branch
// "col = v ... ORDER BY id DESC LIMIT fetch" — a backward scan of the
// (col..., id) index that stops after fetch rows — and the branches are
// merged by UNION ALL, sorting at most branches × fetch rows. The other
// filters are conditions on each branch. With single values there is one
// branch and no sort at all.
func buildSessionQuery(f store.SessionFilter, fetch int) (string, args, error) {
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

	var a args
	// Id and time bounds, common to every branch (each value is one
	// parameter, used by every branch).
	var common []string
	if !f.Since.IsZero() {
		common = append(common, `id >= `+a.add(store.IDLowerBound(f.Since)), `created_at >= `+a.add(nanos(f.Since)))
	}
	upper := ""
	if !f.Until.IsZero() {
		// The id bound is the end of until's millisecond; created_at
		// makes the cut exact.
		upper = store.IDLowerBound(f.Until.Add(time.Millisecond - time.Nanosecond))
		common = append(common, `created_at < `+a.add(nanos(f.Until)))
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
		common = append(common, `id < `+a.add(upper))
	}
	limit := a.add(fetch)

	// Choose the driving dimensions (split into branches). Users and
	// resources are far more selective than statuses and types, so they
	// drive when given (with the status too when the (user|resource,
	// status, id) index applies); otherwise status and type drive.
	n := func(i int) int { return len(dims[i].values) }
	var drive []int
	switch {
	case n(2) > 0 && n(0) > 0 && n(2)*n(0) <= maxBranches:
		drive = []int{2, 0}
	case n(2) > 0 && n(2) <= maxBranches:
		drive = []int{2}
	case n(3) > 0 && n(0) > 0 && n(3)*n(0) <= maxBranches:
		drive = []int{3, 0}
	case n(3) > 0 && n(3) <= maxBranches:
		drive = []int{3}
	case n(0) > 0 && n(1) > 0 && n(0)*n(1) <= maxBranches:
		drive = []int{0, 1}
	case n(0) > 0 && n(0) <= maxBranches:
		drive = []int{0}
	case n(1) > 0 && n(1) <= maxBranches:
		drive = []int{1}
	}
	isDrive := map[int]bool{}
	for _, i := range drive {
		isDrive[i] = true
	}
	// Residual conditions: the non-driving dimensions.
	var resid []string
	for i, d := range dims {
		if isDrive[i] || len(d.values) == 0 {
			continue
		}
		if len(d.values) == 1 {
			resid = append(resid, d.col+` = `+a.add(d.values[0]))
		} else {
			resid = append(resid, d.col+` = ANY(`+a.add(d.values)+`)`)
		}
	}
	// Branches: the cartesian product of the driving dimensions' values,
	// each value one parameter.
	marks := make(map[int][]string, len(drive))
	for _, i := range drive {
		for _, v := range dims[i].values {
			marks[i] = append(marks[i], a.add(v))
		}
	}
	combos := [][]string{{}}
	for _, i := range drive {
		var next [][]string
		for _, c := range combos {
			for _, m := range marks[i] {
				next = append(next, append(append([]string{}, c...), dims[i].col+` = `+m))
			}
		}
		combos = next
	}
	branches := make([]string, 0, len(combos))
	for _, c := range combos {
		conds := append(append(append([]string{}, c...), resid...), common...)
		q := `SELECT ` + sessionCols + ` FROM sessions`
		if len(conds) > 0 {
			q += ` WHERE ` + strings.Join(conds, ` AND `)
		}
		q += ` ORDER BY id DESC LIMIT ` + limit
		branches = append(branches, q)
	}
	if len(branches) == 1 {
		return branches[0], a, nil
	}
	for i, b := range branches {
		branches[i] = `(` + b + `)`
	}
	return strings.Join(branches, ` UNION ALL `) + ` ORDER BY id DESC LIMIT ` + limit, a, nil
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
