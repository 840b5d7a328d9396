package postgres

import (
	"embed"

	"github.com/onepam/onepam/control/store/sqlstore"
)

// schema is this store's migrations (migrations/*.sql, embedded) and
// dialect; Open applies it (sqlstore.Migrate), refusing a database newer
// than this binary (ErrSchemaTooNew).
var schema = sqlstore.Schema{FS: migrationFS, Dialect: dialect}

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is wrapped by Open's error when the database was written
// by a newer onepam.
var ErrSchemaTooNew = sqlstore.ErrSchemaTooNew

// LatestSchemaVersion is the schema version this binary migrates to.
func LatestSchemaVersion() int { return schema.Latest() }
