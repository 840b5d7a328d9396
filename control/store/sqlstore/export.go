package sqlstore

import "github.com/onepam/onepam/pkg/api"

// The session columns and their values, for the statements a dialect
// writes itself (bulk inserts, list queries).
const (
	// SessionCols are the columns QuerySessions scans, in its order.
	SessionCols = sessionCols
	// NumSessionCols is the number of SessionCols.
	NumSessionCols = numSessionCols
)

// PrepareSession validates a session for insertion and fills its
// defaults.
func PrepareSession(sess *api.Session) error { return prepareSession(sess) }

// SessionArgs are the values of SessionCols for an insert.
func SessionArgs(sess *api.Session) []any { return sessionArgs(sess) }
