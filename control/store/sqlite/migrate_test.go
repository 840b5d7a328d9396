package sqlite_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
)

// rawExec runs statements on the database file directly.
func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("raw exec %q: %v", q, err)
		}
	}
}

// rawCount returns the single integer a query answers.
func rawCount(t *testing.T, path, q string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("raw query %q: %v", q, err)
	}
	return n
}

func TestMigrations(t *testing.T) {
	latest := sqlite.LatestSchemaVersion()
	if latest < 1 {
		t.Fatalf("no embedded migrations (latest %d)", latest)
	}
	t.Run("reopen-does-not-migrate-again", func(t *testing.T) {
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "onepam.db")
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if err := s.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin}); err != nil {
			t.Fatalf("create user: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		for i := range 2 {
			s, err = sqlite.Open(ctx, path)
			if err != nil {
				t.Fatalf("reopen %d: %v", i, err)
			}
			v, err := s.SchemaVersion(ctx)
			if err != nil || v != latest {
				t.Fatalf("schema version: %d, %v; want %d", v, err, latest)
			}
			if _, err := s.GetUser(ctx, "alice"); err != nil {
				t.Fatalf("data lost on reopen: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
		}
		if n := rawCount(t, path, `SELECT COUNT(*) FROM schema_version`); n != latest {
			t.Fatalf("schema_version has %d rows, want %d (one per migration, applied once)", n, latest)
		}
		if mode := rawJournalMode(t, path); mode != "wal" {
			t.Fatalf("journal mode %q, want wal", mode)
		}
	})
	t.Run("newer-schema-refused", func(t *testing.T) {
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "onepam.db")
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		rawExec(t, path, `INSERT INTO schema_version (version, applied_at) VALUES (999, 0)`)
		_, err = sqlite.Open(ctx, path)
		if !errors.Is(err, sqlite.ErrSchemaTooNew) {
			t.Fatalf("open of a newer database: got %v, want ErrSchemaTooNew", err)
		}
		want := "database schema version 999 is newer than this onepam supports (" + itoa(latest) + "); upgrade onepam"
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
	})
	t.Run("not-a-database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "junk.db")
		rawWrite(t, path, strings.Repeat("this is not a database\n", 200))
		if _, err := sqlite.Open(t.Context(), path); err == nil {
			t.Fatalf("opened a file that is not a database")
		}
	})
}
