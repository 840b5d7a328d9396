package sqlite

import "github.com/onepam/onepam/control/store/sqlstore"

// sessionCols are the shared store's session columns, for the list
// queries of this package.
const sessionCols = sqlstore.SessionCols
