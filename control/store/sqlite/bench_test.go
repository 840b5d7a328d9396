package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/control/store/storetest"
	"github.com/onepam/onepam/pkg/api"
)

// benchSessions is the size of the shared ListSessions database.
const benchSessions = 1_000_000

// benchDB is the 1M-session database, built once per process by the first
// benchmark that needs it and removed by TestMain.
var benchDB struct {
	once     sync.Once
	dir      string
	path     string
	now      time.Time
	build    time.Duration
	buildCPU time.Duration
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDB.dir != "" {
		os.RemoveAll(benchDB.dir)
	}
	os.Exit(code)
}

// bigStore opens the shared 1M-session database, building it on first use.
func bigStore(b *testing.B) *sqlite.Store {
	b.Helper()
	ctx := context.Background()
	benchDB.once.Do(func() {
		benchDB.dir, benchDB.err = os.MkdirTemp("", "onepam-bench-")
		if benchDB.err != nil {
			return
		}
		benchDB.path = filepath.Join(benchDB.dir, "onepam.db")
		benchDB.now = time.Now()
		start, cpu0 := time.Now(), cpuTime()
		benchDB.err = buildBenchDB(ctx, benchDB.path, benchDB.now)
		benchDB.build, benchDB.buildCPU = time.Since(start), cpuTime()-cpu0
	})
	if benchDB.err != nil {
		b.Fatalf("build the benchmark database: %v", benchDB.err)
	}
	b.Logf("database of %d sessions built in %v (%v of CPU)", benchSessions,
		benchDB.build.Round(time.Millisecond), benchDB.buildCPU.Round(time.Millisecond))
	s, err := sqlite.Open(ctx, benchDB.path)
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// cpuTime is the process's user+system CPU time so far (the benchmark
// machine may be shared, so wall time alone can mislead).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// buildBenchDB creates the database at path and fills it with
// benchSessions seeded sessions. The secondary indexes of the sessions
// table are dropped while the rows go in and built again afterwards (a
// sort instead of a million random index inserts), as a bulk import would.
func buildBenchDB(ctx context.Context, path string, now time.Time) error {
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer raw.Close()
	rows, err := raw.QueryContext(ctx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND tbl_name = 'sessions' AND sql IS NOT NULL`)
	if err != nil {
		return err
	}
	var names, creates []string
	for rows.Next() {
		var name, create string
		if err := rows.Scan(&name, &create); err != nil {
			rows.Close()
			return err
		}
		names, creates = append(names, name), append(creates, create)
	}
	rows.Close()
	for _, name := range names {
		if _, err := raw.ExecContext(ctx, `DROP INDEX `+name); err != nil {
			return err
		}
	}
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	if err := storetest.Seed(ctx, s, benchSessions, now); err != nil {
		s.Close()
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	for _, create := range creates {
		if _, err := raw.ExecContext(ctx, create); err != nil {
			return err
		}
	}
	_, err = raw.ExecContext(ctx, `ANALYZE`)
	return err
}

func BenchmarkListSessions(b *testing.B) {
	s := bigStore(b)
	ctx := context.Background()

	// The cursor after 10,000 completed sessions, from a real walk.
	deep := store.SessionFilter{Statuses: []api.SessionStatus{api.StatusCompleted}, Limit: 1000}
	for range 10 {
		_, next, err := s.ListSessions(ctx, deep)
		if err != nil || next == "" {
			b.Fatalf("walk to the deep page: %v", err)
		}
		deep.Cursor = next
	}
	deep.Limit = 50

	tests := []struct {
		name string
		f    store.SessionFilter
	}{
		{"first-page/status=active,type=tcp", store.SessionFilter{
			Statuses: []api.SessionStatus{api.StatusActive}, Types: []api.SessionType{api.TypeTCP}, Limit: 50}},
		{"first-page/no-filter", store.SessionFilter{Limit: 50}},
		{"first-page/status=completed,failed", store.SessionFilter{
			Statuses: []api.SessionStatus{api.StatusCompleted, api.StatusFailed}, Limit: 50}},
		{"first-page/user", store.SessionFilter{Users: []string{"user042"}, Limit: 50}},
		{"deep-page/status=completed", deep},
		{"since-until window", store.SessionFilter{
			Since: benchDB.now.Add(-7 * 24 * time.Hour), Until: benchDB.now.Add(-6 * 24 * time.Hour), Limit: 50}},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			page, _, err := s.ListSessions(ctx, tc.f)
			if err != nil {
				b.Fatalf("list: %v", err)
			}
			if len(page) == 0 {
				b.Fatalf("empty page")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := s.ListSessions(ctx, tc.f); err != nil {
					b.Fatalf("list: %v", err)
				}
			}
			b.ReportMetric(float64(len(page)), "rows/page")
		})
	}
}

func BenchmarkCreateSession(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		name := "serial"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "onepam.db"))
			if err != nil {
				b.Fatalf("open: %v", err)
			}
			defer s.Close()
			ctx := context.Background()
			create := func() {
				sess := api.Session{ID: store.NewID(), User: "alice", Type: api.TypeTCP, Status: api.StatusPending,
					Resource: "echo", Agent: "agent-1", ClientIP: "127.0.0.1", CreatedAt: time.Now()}
				if err := s.CreateSession(ctx, sess); err != nil {
					b.Errorf("create: %v", err)
				}
			}
			start := time.Now()
			if parallel {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						create()
					}
				})
			} else {
				for b.Loop() {
					create()
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sessions/s")
		})
	}
}

func BenchmarkTransition(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "onepam.db"))
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	sessions := make([]api.Session, b.N)
	now := time.Now()
	for i := range sessions {
		sessions[i] = api.Session{ID: store.IDAt(now.Add(time.Duration(i) * time.Millisecond)), User: "alice",
			Type: api.TypeTCP, Status: api.StatusPending, Resource: "echo", ClientIP: "127.0.0.1"}
	}
	if err := s.BulkInsertSessions(ctx, sessions); err != nil {
		b.Fatalf("insert: %v", err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := s.Transition(ctx, sessions[i].ID, store.Transition{To: api.StatusActive, Agent: "agent-1"}); err != nil {
			b.Fatalf("transition: %v", err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "transitions/s")
}
