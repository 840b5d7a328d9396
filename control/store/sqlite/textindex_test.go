package sqlite

import (
	"context"
	"database/sql"
	"errors"
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
	ctx := t.Context()
	all := storetest.TextLines("rec", 0, 10)
	tests := []struct {
		name string
		// run does the attempts of a control (or of several, one after
		// the other) on recording id.
		run          func(t *testing.T, s *Store, id string)
		wantLines    []store.TextLine // searchable afterwards, each once
		wantListed   bool             // by UnindexedRecordings (MaxAttempts 3)
		wantAttempts int
	}{
		{"finished in batches", func(t *testing.T, s *Store, id string) {
			ti, ok, err := s.BeginRecordingText(ctx, id)
			if !ok || err != nil {
				t.Fatalf("begin: %v %v", ok, err)
			}
			mustT(t, s.AddRecordingText(ctx, &ti, all[:4]))
			mustT(t, s.AddRecordingText(ctx, &ti, all[4:8]))
			mustT(t, s.FinishRecordingText(ctx, &ti, all[8:]))
			if ti.Lines != int64(len(all)) {
				t.Fatalf("%d lines counted, want %d", ti.Lines, len(all))
			}
		}, all, false, 1},
		{"unfinished: nothing searchable, listed", func(t *testing.T, s *Store, id string) {
			ti, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			mustT(t, s.AddRecordingText(ctx, &ti, all[:5]))
		}, nil, true, 1},
		{"unfinished, then indexed again", func(t *testing.T, s *Store, id string) {
			ti, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			mustT(t, s.AddRecordingText(ctx, &ti, all[:5]))
			// control stops; the next one begins again
			ti, ok, err := s.BeginRecordingText(ctx, id)
			if !ok || err != nil || ti.Attempt != 2 || ti.Lines != 0 {
				t.Fatalf("second begin: %+v %v %v", ti, ok, err)
			}
			mustT(t, s.AddRecordingText(ctx, &ti, all[:5]))
			mustT(t, s.FinishRecordingText(ctx, &ti, all[5:]))
		}, all, false, 2},
		{"indexed: not begun again", func(t *testing.T, s *Store, id string) {
			ti, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			mustT(t, s.FinishRecordingText(ctx, &ti, all))
			if _, ok, err := s.BeginRecordingText(ctx, id); ok || err != nil {
				t.Fatalf("begin of an indexed recording: %v %v", ok, err)
			}
			mustT(t, s.FailRecordingText(ctx, id, store.TextFailed, "late")) // leaves it indexed
		}, all, false, 1},
		{"superseded attempt writes nothing", func(t *testing.T, s *Store, id string) {
			old, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			cur, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			if err := s.AddRecordingText(ctx, &old, all[:5]); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("add of a superseded attempt: %v", err)
			}
			if err := s.FinishRecordingText(ctx, &old, all[:5]); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("finish of a superseded attempt: %v", err)
			}
			mustT(t, s.FinishRecordingText(ctx, &cur, all))
		}, all, false, 2},
		{"failed: listed, lines gone", func(t *testing.T, s *Store, id string) {
			ti, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			mustT(t, s.AddRecordingText(ctx, &ti, all[:5]))
			mustT(t, s.FailRecordingText(ctx, id, store.TextFailed, "read error"))
		}, nil, true, 1},
		{"failed 3 times: not listed", func(t *testing.T, s *Store, id string) {
			for range 3 {
				_, _, err := s.BeginRecordingText(ctx, id)
				mustT(t, err)
				mustT(t, s.FailRecordingText(ctx, id, store.TextFailed, "read error"))
			}
		}, nil, false, 3},
		{"interrupted 3 times: listed, attempts not counted", func(t *testing.T, s *Store, id string) {
			for range 3 {
				_, _, err := s.BeginRecordingText(ctx, id)
				mustT(t, err)
				mustT(t, s.FailRecordingText(ctx, id, store.TextInterrupted, "shutdown"))
			}
		}, nil, true, 0},
		{"missing: not listed", func(t *testing.T, s *Store, id string) {
			_, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			mustT(t, s.FailRecordingText(ctx, id, store.TextMissing, "recording not found"))
		}, nil, false, 1},
		{"IndexRecordingText replaces", func(t *testing.T, s *Store, id string) {
			mustT(t, s.IndexRecordingText(ctx, id, storetest.TextLines("rec", 100, 3)))
			mustT(t, s.IndexRecordingText(ctx, id, all))
		}, all, false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(ctx, filepath.Join(t.TempDir(), "onepam.db"))
			mustT(t, err)
			defer s.Close()
			id := storetest.TextSession(ctx, t, s, time.Now())
			// Another recording, indexed, whose lines must stay as they are.
			other := storetest.TextSession(ctx, t, s, time.Now().Add(-time.Hour))
			mustT(t, s.IndexRecordingText(ctx, other, storetest.TextLines("other", 0, 3)))

			tc.run(t, s, id)
			storetest.WantEachOnce(ctx, t, s, "rec", tc.wantLines)
			storetest.WantEachOnce(ctx, t, s, "other", storetest.TextLines("other", 0, 3))
			listed := storetest.UnindexedIDs(ctx, t, s)
			if got := slices.Contains(listed, id); got != tc.wantListed || len(listed) > 1 {
				t.Errorf("unindexed %v, want %s listed: %v", listed, id, tc.wantListed)
			}
			var attempts int
			mustT(t, s.read.QueryRowContext(ctx, `SELECT attempts FROM recording_text_state WHERE session_id = ?`, id).Scan(&attempts))
			if attempts != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", attempts, tc.wantAttempts)
			}
			// Whatever happened, no line of an unfinished attempt is left
			// but its own current attempt's.
			var stray int
			mustT(t, s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM recording_text r JOIN recording_text_state x ON x.session_id = r.session_id
				WHERE x.state IN ('failed', 'missing') AND r.rowid >= ?`, legacyRowids).Scan(&stray))
			if stray != 0 {
				t.Errorf("%d lines left by failed attempts", stray)
			}
		})
	}
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
