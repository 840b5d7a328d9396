package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlstore"
	"github.com/onepam/onepam/control/store/storetest"
	"github.com/onepam/onepam/pkg/api"
)

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestTextIndexAttempts(t *testing.T) {
	count := func(t *testing.T, s storetest.TextStore, q string, args ...any) int {
		t.Helper()
		var n int
		mustT(t, s.(*Store).read.QueryRowContext(context.Background(), q, args...).Scan(&n))
		return n
	}
	storetest.RunTextIndexAttempts(t, func(t *testing.T) storetest.TextStore {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "onepam.db"))
		mustT(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}, storetest.TextTables{
		Attempts: func(t *testing.T, s storetest.TextStore, id string) int {
			return count(t, s, `SELECT attempts FROM recording_text_state WHERE session_id = ?`, id)
		},
		// Lines of this version's attempts have rowids from legacyRowids
		// on (see textindex.go).
		StrayLines: func(t *testing.T, s storetest.TextStore) int {
			return count(t, s, `SELECT COUNT(*) FROM recording_text r JOIN recording_text_state x ON x.session_id = r.session_id
				WHERE x.state IN ('failed', 'missing') AND r.rowid >= ?`, legacyRowids)
		},
	})
}

// openVersion creates a database at schema version v (an onepam from
// before later migrations) and returns a connection to it.
func openVersion(ctx context.Context, t *testing.T, path string, v int) *sql.DB {
	t.Helper()
	ms, err := schema.Migrations()
	mustT(t, err)
	db, err := sql.Open("sqlite", dsn(path, config{}.withDefaults(), false))
	mustT(t, err)
	db.SetMaxOpenConns(1)
	mustT(t, sqlstore.Migrate(ctx, db, dialect, ms[:v], time.Now))
	return db
}

// TestMigrateTextIndex: a database of an onepam from before the indexing
// state (schema 5) with recordings indexed fully, half (control stopped
// during it) and not at all. After the migration, each line is found
// once at every step: before the recordings are indexed again (the old
// lines), after (the new ones), and after the purge of the old ones.
func TestMigrateTextIndex(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "onepam.db")
	db := openVersion(ctx, t, path, 5)
	base := time.Now().Add(-24 * time.Hour)
	type rec struct {
		name     string
		format   api.RecordingFormat
		state    api.RecordingState
		indexed  int // lines of 10 indexed by the old control
		reindex  bool
		listedAs int // position in UnindexedRecordings (newest first), -1: not listed
	}
	recs := []rec{
		{"full", api.FormatAsciicast, api.RecordingComplete, 10, true, 4},
		{"half", api.FormatAsciicast, api.RecordingPartial, 5, true, 3},
		{"none", api.FormatAsciicast, api.RecordingComplete, 0, true, 2},
		{"expired", api.FormatAsciicast, api.RecordingExpired, 10, false, -1},
		{"tcp", api.FormatConnlog, api.RecordingComplete, 0, false, -1},
		{"running", api.FormatAsciicast, api.RecordingRecording, 0, false, -1},
		{"full2", api.FormatAsciicast, api.RecordingComplete, 10, true, 1},
		{"partial2", api.FormatAsciicast, api.RecordingComplete, 3, true, 0},
	}
	ids := map[string]string{}
	for i, r := range recs {
		id := store.IDAt(base.Add(time.Duration(i) * time.Minute))
		ids[r.name] = id
		_, err := db.ExecContext(ctx, `INSERT INTO sessions (id, user_name, type, status, resource, agent, login, client_ip,
			created_at, rec_format, rec_state) VALUES (?, 'alice', 'ssh', 'completed', 'web-1', 'a1', 'root', '', ?, ?, ?)`,
			id, base.UnixNano(), string(r.format), string(r.state))
		mustT(t, err)
	}
	// The old control's inserts, two recordings at a time (their rowids
	// interleave).
	for i := range 10 {
		for _, r := range recs {
			if i < r.indexed {
				l := storetest.TextLines(r.name, i, 1)[0]
				_, err := db.ExecContext(ctx, `INSERT INTO recording_text (line, session_id, kind, t) VALUES (?, ?, 'o', ?)`,
					l.Text, ids[r.name], l.At.Milliseconds())
				mustT(t, err)
			}
		}
	}
	mustT(t, db.Close())

	s, err := Open(ctx, path)
	mustT(t, err)
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != LatestSchemaVersion() {
		t.Fatalf("schema version %d, %v", v, err)
	}
	var last string
	mustT(t, s.read.QueryRowContext(ctx, `SELECT last_session FROM recording_text_legacy`).Scan(&last))
	if last != ids["partial2"] {
		t.Fatalf("last session %q, want %q", last, ids["partial2"])
	}
	listed := storetest.UnindexedIDs(ctx, t, s)
	for _, r := range recs {
		if got := slices.Index(listed, ids[r.name]); got != r.listedAs {
			t.Errorf("%s listed at %d, want %d (%v)", r.name, got, r.listedAs, listed)
		}
	}
	// searchable lines: each recording's indexed ones, then all of the
	// re-indexed ones.
	check := func(step string, reindexed bool) {
		t.Run(step, func(t *testing.T) {
			for _, r := range recs {
				want := storetest.TextLines(r.name, 0, r.indexed)
				if r.reindex && reindexed {
					want = storetest.TextLines(r.name, 0, 10)
				}
				storetest.WantEachOnce(ctx, t, s, "of "+r.name, want)
			}
		})
	}
	check("old lines after the migration", false)

	// Re-index each one, the first one cut short and begun again.
	for i, r := range recs {
		if !r.reindex {
			continue
		}
		ti, ok, err := s.BeginRecordingText(ctx, ids[r.name])
		if !ok || err != nil {
			t.Fatalf("begin %s: %v %v", r.name, ok, err)
		}
		if i == 0 {
			mustT(t, s.AddRecordingText(ctx, &ti, storetest.TextLines(r.name, 0, 4)))
			check("old lines while an attempt is unfinished", false)
			if ti, _, err = s.BeginRecordingText(ctx, ids[r.name]); err != nil {
				t.Fatal(err)
			}
		}
		mustT(t, s.AddRecordingText(ctx, &ti, storetest.TextLines(r.name, 0, 6)))
		mustT(t, s.FinishRecordingText(ctx, &ti, storetest.TextLines(r.name, 6, 4)))
	}
	check("new lines after indexing again", true)
	if got := storetest.UnindexedIDs(ctx, t, s); len(got) != 0 {
		t.Fatalf("still unindexed: %v", got)
	}

	legacyLines := func() int {
		var n int
		mustT(t, s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM recording_text WHERE rowid < ?`, legacyRowids).Scan(&n))
		return n
	}
	if n := legacyLines(); n != 10+5+10+10+3 {
		t.Fatalf("%d old lines before the purge", n)
	}
	for i, want := range []int64{10 + 5 + 10 + 3, 0} { // the second purge has nothing to do
		n, err := s.PurgeReplacedText(ctx)
		if n != want || err != nil {
			t.Fatalf("purge %d: %d lines, %v; want %d", i, n, err, want)
		}
	}
	if n := legacyLines(); n != 10 {
		t.Fatalf("%d old lines after the purge, want the expired recording's 10", n)
	}
	check("after the purge", true)
}

// TestMigrateEmptyTextIndex: a database without indexed text has no old
// lines to purge.
func TestMigrateEmptyTextIndex(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "onepam.db")
	mustT(t, openVersion(ctx, t, path, 5).Close())
	s, err := Open(ctx, path)
	mustT(t, err)
	defer s.Close()
	var last string
	mustT(t, s.read.QueryRowContext(ctx, `SELECT last_session FROM recording_text_legacy`).Scan(&last))
	if last != "" {
		t.Fatalf("last session %q, want none", last)
	}
	id := storetest.TextSession(ctx, t, s, time.Now())
	mustT(t, s.IndexRecordingText(ctx, id, storetest.TextLines("rec", 0, 3)))
	if n, err := s.PurgeReplacedText(ctx); n != 0 || err != nil {
		t.Fatalf("purge: %d, %v", n, err)
	}
	var replaced int
	mustT(t, s.read.QueryRowContext(ctx, `SELECT replaced FROM recording_text_legacy`).Scan(&replaced))
	if replaced != 0 {
		t.Fatalf("a new recording counted as replacing old lines")
	}
}
