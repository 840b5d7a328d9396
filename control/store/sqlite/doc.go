// Package sqlite is the embedded implementation of store.Store on
// modernc.org/sqlite (pure Go, no cgo).
//
// The database runs in WAL mode with foreign keys on, synchronous=NORMAL
// and a busy timeout. Two connection pools share the file: a read pool of
// several connections (query_only) and a write pool of exactly one
// connection whose transactions begin IMMEDIATE. Every write goes through
// the write pool, so writers from many goroutines queue in Go instead of
// failing with SQLITE_BUSY, and a read-modify-write such as Transition is
// serialised with every other write.
//
// The schema is created and upgraded by numbered migrations embedded in the
// binary (migrations/NNNN_name.sql), each applied in its own transaction and
// recorded in the schema_version table. A database whose schema is newer
// than this binary knows is refused (ErrSchemaTooNew).
//
// The logic shared with the PostgreSQL store is package sqlstore's (the
// queries, the session list query, the recording text indexing steps and
// search, the migration runner); this package keeps opening the file and
// its pools, its migrations, its dialect (? placeholders, INDEXED BY, no
// row locks) and its recording text index: the FTS5 table recording_text,
// its rowids per recording, its phrase query, and the lines from before
// migration 6 (hidden once their recording is indexed again, then purged
// by PurgeReplacedText).
//
// Times are stored as INTEGER Unix nanoseconds (UTC) and read back in UTC.
// Session and audit ids are canonical lowercase UUIDv7 strings, so ordering
// by id is ordering by creation time, and a time range becomes an id range.
package sqlite
