package sqlite

import "github.com/onepam/onepam/control/store/sqlstore"

// ListSessions is the shared store's (sqlstore.Core); its query is
// sqlstore.Dialect.SessionQuery.

// Page sizes of ListSessions.
const (
	DefaultSessionLimit = sqlstore.DefaultSessionLimit
	MaxSessionLimit     = sqlstore.MaxSessionLimit
)

// EncodeCursor returns the cursor that continues a listing after the
// session id (URL-safe base64 of the id's 16 bytes).
func EncodeCursor(id string) string { return sqlstore.EncodeCursor(id) }

// DecodeCursor returns the id a cursor continues after; the error wraps
// store.ErrInvalid.
func DecodeCursor(c string) (string, error) { return sqlstore.DecodeCursor(c) }
