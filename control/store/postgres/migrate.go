package postgres

import (
	"context"
	"database/sql"
	"embed"
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

// migrate brings the database to the latest schema (see sqlstore.Migrate
// and the dialect's migration settings), refusing a database newer than
// this binary.
func migrate(ctx context.Context, db *sql.DB, now func() time.Time) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return sqlstore.Migrate(ctx, db, dialect, ms, now)
}
