package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/onepam/onepam/control/store/sqlstore"
)

// toJSON encodes a JSON column as the shared store stores it.
var toJSON = sqlstore.ToJSON

// isUnique reports whether err is a unique or primary key violation.
func isUnique(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// isForeignKey reports whether err is a foreign key violation.
func isForeignKey(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23503"
}
