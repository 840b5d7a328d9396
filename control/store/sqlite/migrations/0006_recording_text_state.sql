-- Whether each recording's text is indexed for search, so that a control
-- stopped while it indexed a recording (or before it got to it) indexes
-- it at its next start, and no line is indexed twice.
--
-- One row per recording whose indexing began. num numbers the recording
-- in the index: its lines in recording_text have the rowids
-- num * 2^32 + position, one rowid range that a new attempt deletes
-- cheaply. state is
--   'indexing': an attempt began (attempts counts them); its lines are
--               not searchable yet,
--   'done':     written in the transaction of the last lines; the lines
--               are searchable,
--   'failed':   tried again at later starts while attempts is below
--               control's limit,
--   'missing':  the recording's data is gone; not tried again.
CREATE TABLE recording_text_state (
    num        INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE REFERENCES sessions (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    lines      INTEGER NOT NULL DEFAULT 0,
    error      TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);

-- Lines indexed before this migration have rowids below 2^32 and no
-- state: nothing says whether their recording was indexed to its end, so
-- the recording is indexed again at the next start. Its old lines stay
-- searchable until the new ones are done, are hidden from then on, and
-- are deleted by a purge in the background. last_session is the newest
-- session that may have such lines ('' when the index was empty);
-- replaced counts the recordings up to it indexed again, purged is the
-- value of replaced when the last complete purge began.
CREATE TABLE recording_text_legacy (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    last_session TEXT NOT NULL,
    replaced     INTEGER NOT NULL DEFAULT 0,
    purged       INTEGER NOT NULL DEFAULT 0
);
INSERT INTO recording_text_legacy (id, last_session)
SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM recording_text)
               THEN COALESCE((SELECT MAX(id) FROM sessions), '') ELSE '' END;
