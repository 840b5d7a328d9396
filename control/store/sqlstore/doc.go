// Package sqlstore holds the store.Store logic that the SQLite and the
// PostgreSQL implementations share: the statements, row scanning, query
// building and validation, written once against database/sql with "?"
// placeholders.
//
// A Core runs them through a Dialect, which says what differs between the
// two databases: the placeholder style (rebound from "?" to "$n" once per
// statement text and cached), how an error reads as a unique violation,
// and the few fragments whose SQL is not the same (row locks, prefix
// matches, how recording text lines are kept: TextIndex). Packages sqlite
// and postgres embed a Core in their Store and keep what is theirs:
// opening, pools, migrations, text search, and the storage of recording
// text lines (SQLite's FTS5 rowids, PostgreSQL's tsvector of each line).
package sqlstore
