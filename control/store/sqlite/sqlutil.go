package sqlite

import (
	"errors"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/onepam/onepam/control/store/sqlstore"
)

// Values as the shared store stores them.
var (
	nanos         = sqlstore.Nanos
	nullNanos     = sqlstore.NullNanos
	fromNanos     = sqlstore.FromNanos
	fromNullNanos = sqlstore.FromNullNanos
	toJSON        = sqlstore.ToJSON
	fromJSON      = sqlstore.FromJSON
	affected      = sqlstore.Affected
	placeholders  = sqlstore.Placeholders
)

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
