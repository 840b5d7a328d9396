package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one numbered schema step of a store's embedded migrations.
type Migration struct {
	Version int    // NNNN of the file name, from 1, no gaps
	Name    string // the file name
	SQL     string // the statements
}

// LoadMigrations returns the migrations in dir of fsys in version order.
// File names are NNNN_name.sql; versions start at 1 and have no gaps.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %q: name must be NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// LatestVersion is the version of the last migration, 0 when there is none.
func LatestVersion(ms []Migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// Schema is a store's embedded migration files (migrations/NNNN_name.sql
// of FS) and the dialect they are applied with.
type Schema struct {
	FS      fs.FS
	Dialect Dialect
}

// Migrations returns the schema's migrations in version order.
func (s Schema) Migrations() ([]Migration, error) { return LoadMigrations(s.FS, "migrations") }

// Latest is the version the schema's last migration brings a database to
// (0 when the files cannot be read: they are embedded, so tests catch it).
func (s Schema) Latest() int {
	ms, err := s.Migrations()
	if err != nil {
		return 0
	}
	return LatestVersion(ms)
}

// Migrate brings db to the schema's latest version (see Migrate).
func (s Schema) Migrate(ctx context.Context, db *sql.DB, now func() time.Time) error {
	ms, err := s.Migrations()
	if err != nil {
		return err
	}
	return Migrate(ctx, db, s.Dialect, ms, now)
}

// ErrSchemaTooNew is wrapped by a store's Open error when the database was
// written by a newer onepam.
var ErrSchemaTooNew = errors.New("database schema is newer than this onepam supports")

// SchemaTooNewError is the refusal of a database from a newer onepam.
type SchemaTooNewError struct{ Have, Supported int }

func (e SchemaTooNewError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this onepam supports (%d); upgrade onepam", e.Have, e.Supported)
}

func (e SchemaTooNewError) Is(target error) bool { return target == ErrSchemaTooNew }

// Migrate brings the database of db to the last of ms, recording each
// version applied in schema_version, and refuses a database whose schema
// is newer (an error wrapping ErrSchemaTooNew). Each transaction first
// runs the dialect's MigrationLock, then re-reads the version, so that
// processes opening one database at once apply each migration exactly
// once; it applies the next migration, or with MigrateAtOnce all that
// are missing. The migrations' own SQL is run as written.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, ms []Migration, now func() time.Time) error {
	latest := LatestVersion(ms)
	for {
		done, err := migrateStep(ctx, db, d, ms, latest, now)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies, in one transaction, the next migration the
// database lacks (all of them with MigrateAtOnce); done is true when
// none is left.
func migrateStep(ctx context.Context, db *sql.DB, d Dialect, ms []Migration, latest int, now func() time.Time) (done bool, err error) {
	bind := func(q string) string {
		if d.Dollar {
			return Rebind(q)
		}
		return q
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	if d.MigrationLock != "" {
		if _, err := tx.ExecContext(ctx, d.MigrationLock); err != nil {
			return false, fmt.Errorf("migration lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY,
		applied_at `+d.Int64+` NOT NULL
	)`); err != nil {
		return false, fmt.Errorf("create schema_version: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if current > latest {
		return false, SchemaTooNewError{Have: current, Supported: latest}
	}
	todo := ms[current:]
	if len(todo) > 1 && !d.MigrateAtOnce {
		todo = todo[:1]
	}
	for _, m := range todo {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return false, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, bind(`INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`),
			m.Version, now().UnixNano()); err != nil {
			return false, fmt.Errorf("migration %s: record version: %w", m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		if len(todo) == 1 {
			return false, fmt.Errorf("migration %s: commit: %w", todo[0].Name, err)
		}
		return false, fmt.Errorf("migrations: commit: %w", err)
	}
	return current+len(todo) == latest, nil
}

// SchemaVersion returns the database's current schema version.
func (c *Core) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := c.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
