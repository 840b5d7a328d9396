// Package postgres is the implementation of store.Store on PostgreSQL
// (pgx v5 through database/sql), for deployments where several control
// replicas share one database. The embedded default is package
// store/sqlite; both pass the conformance suite of store/storetest and
// offer the same methods beyond store.Store (passwords, recording
// storage and retention, recording text indexing).
//
// The logic shared with the SQLite store is package sqlstore's (the
// queries, the session list query, the recording text indexing steps and
// search, the migration runner); this package keeps opening and its pool,
// its migrations, its dialect ($n placeholders, = ANY, row and advisory
// locks, upserts) and how recording text is kept: each line's words as a
// tsvector built by words.go, searched as a phrase tsquery.
//
// The schema is created and upgraded by numbered migrations embedded in the
// binary (migrations/NNNN_name.sql). Open applies the missing ones in one
// transaction that first takes a transaction-level advisory lock, so
// control nodes starting at once apply each migration exactly once; a
// database whose schema is newer than this binary knows is refused
// (ErrSchemaTooNew).
//
// As in the SQLite store, times are BIGINT Unix nanoseconds (UTC) and
// session and audit ids are canonical lowercase UUIDv7 strings (in the "C"
// collation), so ordering by id is ordering by creation time, a time range
// becomes an id range, and pagination is by keyset on the id.
//
// Writes that read before they write (Transition, SetAgentResources, the
// text indexing steps) lock what they read (SELECT ... FOR UPDATE, or an
// advisory lock), so they are serialised across control nodes at the
// default READ COMMITTED isolation.
//
// The nodes sharing the database each have a row of control_nodes
// (migration 2) with their heartbeat; sessions and agents record their
// node. The search index catch-up runs on one node at a time under
// pg_try_advisory_lock, held on a connection of its own until released
// (or until the node's connection dies). Notify and Listen (notify.go)
// carry the nodes' session events to each other (NOTIFY on one channel,
// LISTEN on a pool connection kept for it, closed when it fails), so that
// every node's live session list shows every node's sessions.
package postgres
