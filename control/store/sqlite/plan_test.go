package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// queryPlan returns the EXPLAIN QUERY PLAN lines of the list query of f.
func queryPlan(ctx context.Context, t *testing.T, s *Store, f store.SessionFilter) []string {
	t.Helper()
	q, args, err := dialect.SessionQuery(f, 51)
	if err != nil {
		t.Fatalf("build query: %v", err)
	}
	rows, err := s.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatalf("explain: %v", err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("explain: %v", err)
	}
	return plan
}

func TestListPlans(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	st := func(v ...api.SessionStatus) []api.SessionStatus { return v }
	ty := func(v ...api.SessionType) []api.SessionType { return v }
	now := time.Now()
	cursor := EncodeCursor(store.IDAt(now))
	tests := []struct {
		name  string
		f     store.SessionFilter
		index string // every scan must use this index ("" = the table, in id order)
		sort  bool   // whether sorting each branch's LIMIT rows for the merge is allowed
	}{
		{"hot: status=active type=tcp", store.SessionFilter{Statuses: st(api.StatusActive), Types: ty(api.TypeTCP)}, "sessions_status_type", false},
		{"hot, deep page", store.SessionFilter{Statuses: st(api.StatusActive), Types: ty(api.TypeTCP), Cursor: cursor}, "sessions_status_type", false},
		{"hot, window", store.SessionFilter{Statuses: st(api.StatusActive), Types: ty(api.TypeTCP), Since: now.Add(-time.Hour), Until: now}, "sessions_status_type", false},
		{"status only", store.SessionFilter{Statuses: st(api.StatusCompleted), Cursor: cursor}, "sessions_status", false},
		{"type only", store.SessionFilter{Types: ty(api.TypeSSH)}, "sessions_type", false},
		{"user only", store.SessionFilter{Users: []string{"alice"}}, "sessions_user", false},
		{"resource only", store.SessionFilter{Resources: []string{"pg"}}, "sessions_resource", false},
		{"no filter", store.SessionFilter{}, "", false},
		{"no filter, window", store.SessionFilter{Since: now.Add(-time.Hour), Until: now}, "", false},
		{"two statuses, one type", store.SessionFilter{Statuses: st(api.StatusActive, api.StatusPending), Types: ty(api.TypeTCP)}, "sessions_status_type", true},
		{"two statuses", store.SessionFilter{Statuses: st(api.StatusCompleted, api.StatusFailed)}, "sessions_status", true},
		{"two users", store.SessionFilter{Users: []string{"alice", "bob"}}, "sessions_user", true},
		{"user and status", store.SessionFilter{Users: []string{"alice"}, Statuses: st(api.StatusCompleted)}, "sessions_user_status", false},
		{"user, status and type", store.SessionFilter{Users: []string{"alice"}, Statuses: st(api.StatusActive), Types: ty(api.TypeTCP)}, "sessions_user_status", false},
		{"user and type", store.SessionFilter{Users: []string{"alice"}, Types: ty(api.TypeTCP)}, "sessions_user", false},
		{"resource and status", store.SessionFilter{Resources: []string{"pg"}, Statuses: st(api.StatusFailed)}, "sessions_resource_status", false},
		{"resources and statuses", store.SessionFilter{Resources: []string{"pg", "web"}, Statuses: st(api.StatusFailed, api.StatusCompleted)}, "sessions_resource_status", true},
		{"many users and statuses", store.SessionFilter{Users: []string{"a", "b", "c", "d", "e", "f", "g"}, Statuses: api.SessionStatuses}, "sessions_user", true},
		{"window and status", store.SessionFilter{Statuses: st(api.StatusFailed), Since: now.Add(-time.Hour), Until: now}, "sessions_status", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := queryPlan(ctx, t, s, tc.f)
			text := strings.Join(plan, "\n")
			scans := 0
			for _, line := range plan {
				if !strings.HasPrefix(line, "SCAN") && !strings.HasPrefix(line, "SEARCH") {
					continue
				}
				// With no filter the table itself (clustered by id) is
				// read in order; every filter must use its index.
				if tc.index != "" && strings.HasPrefix(line, "SCAN sessions") && !strings.Contains(line, "USING") {
					t.Fatalf("full table scan without index:\n%s", text)
				}
				if strings.Contains(line, " sessions ") || strings.HasSuffix(line, " sessions") || strings.Contains(line, "sessions USING") {
					scans++
					if tc.index != "" && !strings.Contains(line, "INDEX "+tc.index+" ") {
						t.Fatalf("want index %s:\n%s", tc.index, text)
					}
				}
			}
			if scans == 0 {
				t.Fatalf("no scan of sessions in the plan:\n%s", text)
			}
			for i, line := range plan {
				if !strings.Contains(line, "USE TEMP B-TREE") {
					continue
				}
				// A multi-value branch merge may sort the output of each
				// branch (at most LIMIT rows, already in id order), never
				// a scan of the table.
				if !tc.sort || i == 0 || !strings.HasPrefix(plan[i-1], "SCAN (subquery") {
					t.Fatalf("the query sorts sessions:\n%s", text)
				}
			}
			t.Logf("plan:\n%s", text)
		})
	}
}
