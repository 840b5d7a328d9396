// Package sqlstore holds the store.Store logic that the SQLite and the
// PostgreSQL implementations share: the statements, row scanning, query
// building (the session list's branches, see Dialect.SessionQuery) and
// validation, written once against database/sql with "?" placeholders;
// the recording text indexing steps and search; and the migration runner
// (Migrate) with the schema_version bookkeeping.
//
// A Core runs them through a Dialect, which says what differs between the
// two databases: the placeholder style (rebound from "?" to "$n" once per
// statement text and cached; Args numbers a query built piece by piece),
// how an error reads as a unique or foreign key violation, and the few
// fragments whose SQL is not the same (row locks, upserts, prefix
// matches, MAX or GREATEST, index hints, the migration lock). Its
// TextIndex says how recording text lines are kept and matched. Packages
// sqlite and postgres embed a Core in their Store and keep what is
// theirs: opening, pools, their migration files, and the storage and
// matching of recording text (SQLite's FTS5 table, its rowids and the
// lines from before migration 6; PostgreSQL's tsvector of each line's
// words).
package sqlstore
