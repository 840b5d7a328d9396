package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/onepam/onepam/control/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is wrapped by Open's error when the database was written
// by a newer onepam.
var ErrSchemaTooNew = sqlstore.ErrSchemaTooNew

// migrations returns the embedded migrations in version order.
func migrations() ([]sqlstore.Migration, error) {
	return sqlstore.LoadMigrations(migrationFS, "migrations")
}

// LatestSchemaVersion is the schema version this binary migrates to.
func LatestSchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return sqlstore.LatestVersion(ms)
}

// migrate brings the database to the latest schema, one transaction per
// migration, refusing a database newer than this binary.
func migrate(ctx context.Context, db *sql.DB, now func() time.Time) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := sqlstore.LatestVersion(ms)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	for {
		applied, err := applyNext(ctx, db, ms, latest, now)
		if err != nil {
			return err
		}
		if !applied {
			return nil
		}
	}
}

// applyNext applies the first migration the database lacks, if any, in one
// transaction that re-reads the version under the write lock (so two
// processes opening one file at once cannot both apply it).
func applyNext(ctx context.Context, db *sql.DB, ms []sqlstore.Migration, latest int, now func() time.Time) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if current > latest {
		return false, sqlstore.SchemaTooNewError{Have: current, Supported: latest}
	}
	if current == latest {
		return false, nil
	}
	m := ms[current]
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`,
		m.Version, now().UnixNano()); err != nil {
		return false, fmt.Errorf("migration %s: record version: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return true, nil
}

// SchemaVersion returns the database's current schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
