package sqlstore

// SessionCols are the columns QuerySessions scans, in its order, for the
// list queries a dialect builds itself.
const SessionCols = sessionCols
