-- Database names in policy rules (db sessions): a JSON list of globs.
ALTER TABLE policy_rules ADD COLUMN databases TEXT NOT NULL DEFAULT '[]';

-- File activity of sessions (SFTP, scp, web), oldest first per session.
CREATE TABLE file_events (
    seq        INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    protocol   TEXT NOT NULL,
    op         TEXT NOT NULL,
    path       TEXT NOT NULL,
    path2      TEXT NOT NULL,
    bytes      INTEGER NOT NULL,
    result     TEXT NOT NULL,
    error      TEXT NOT NULL
);
CREATE INDEX file_events_session ON file_events (session_id, seq);

-- Text of recordings (terminal output and typed input), one row per line,
-- indexed for full-text search as recordings are stored. kind is 'o'
-- (output) or 'i' (input); t is the line's offset in the session in
-- milliseconds. Only `line` is indexed; the other columns are carried.
CREATE VIRTUAL TABLE recording_text USING fts5 (
    line,
    session_id UNINDEXED,
    kind UNINDEXED,
    t UNINDEXED,
    tokenize = 'unicode61'
);
