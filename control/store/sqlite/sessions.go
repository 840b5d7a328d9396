package sqlite

import "github.com/onepam/onepam/control/store/sqlstore"

// The shared store's session columns, for the bulk insert and the list
// queries of this package.
const (
	sessionCols    = sqlstore.SessionCols
	numSessionCols = sqlstore.NumSessionCols
)

var (
	prepareSession = sqlstore.PrepareSession
	sessionArgs    = sqlstore.SessionArgs
)
