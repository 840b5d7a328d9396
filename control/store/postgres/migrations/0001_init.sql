-- 0001_init: the first schema of onepam's control database on PostgreSQL,
-- the same tables as the SQLite store's migrations 1-6.
--
-- Times are BIGINT Unix nanoseconds, UTC (timestamptz keeps microseconds
-- only); NULL means "never" / "not yet". Lists and maps are jsonb.
-- Session and audit ids are canonical lowercase UUIDv7 strings in the "C"
-- collation, so ordering by id is ordering by creation time whatever the
-- database's locale; names that are listed in order are "C" too, as in
-- SQLite.

CREATE TABLE users (
    name          TEXT COLLATE "C" PRIMARY KEY,
    role          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    -- bcrypt hash of the console password; NULL when the user has none.
    password_hash BYTEA
);

-- API tokens. hash is the SHA-256 of the secret. Tokens outlive their user
-- (revoked) so that the audit trail can still name them.
CREATE TABLE tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    user_name    TEXT COLLATE "C" NOT NULL,
    name         TEXT NOT NULL,
    hash         BYTEA NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX tokens_user ON tokens (user_name, created_at);

-- One-time agent enrollment tokens.
CREATE TABLE enroll_tokens (
    hash       BYTEA PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- Agents. A name is unique among non-revoked agents, so a host whose agent
-- was removed can enroll again under the same name.
CREATE TABLE agents (
    id           TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT COLLATE "C" NOT NULL,
    hostname     TEXT NOT NULL,
    version      TEXT NOT NULL,
    cert_serial  TEXT NOT NULL,
    enrolled_at  BIGINT NOT NULL,
    last_seen_at BIGINT,
    revoked_at   BIGINT,
    remote_addr  TEXT NOT NULL
);
CREATE UNIQUE INDEX agents_live_name ON agents (name) WHERE revoked_at IS NULL;
CREATE INDEX agents_name ON agents (name, enrolled_at);

-- Resources announced by agents. protocol is what serves the resource
-- (tcp, ssh, postgres, mysql, http, vnc).
CREATE TABLE resources (
    name        TEXT COLLATE "C" PRIMARY KEY,
    agent_id    TEXT COLLATE "C" NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    labels      JSONB NOT NULL,
    description TEXT NOT NULL,
    address     TEXT NOT NULL,
    protocol    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX resources_agent ON resources (agent_id);
CREATE INDEX resources_labels ON resources USING GIN (labels jsonb_path_ops);

-- Policy rules in the order they were added (seq).
CREATE TABLE policy_rules (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    subject     TEXT NOT NULL,
    resources   JSONB NOT NULL,
    types       JSONB NOT NULL,
    labels      JSONB NOT NULL,
    logins      JSONB NOT NULL,
    databases   JSONB NOT NULL,
    description TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE sessions (
    id               TEXT COLLATE "C" PRIMARY KEY,
    user_name        TEXT COLLATE "C" NOT NULL,
    type             TEXT COLLATE "C" NOT NULL,
    status           TEXT COLLATE "C" NOT NULL,
    resource         TEXT COLLATE "C" NOT NULL,
    agent            TEXT NOT NULL,
    login            TEXT NOT NULL,
    client_ip        TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    ended_at         BIGINT,
    bytes_up         BIGINT NOT NULL DEFAULT 0,
    bytes_down       BIGINT NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    terminated_by    TEXT NOT NULL DEFAULT '',
    terminate_reason TEXT NOT NULL DEFAULT '',
    rec_format       TEXT NOT NULL,
    rec_state        TEXT NOT NULL,
    rec_size         BIGINT NOT NULL DEFAULT 0,
    rec_available    BOOLEAN NOT NULL DEFAULT FALSE
);
-- Each branch of a session listing (see list.go) is "col = v ... ORDER BY
-- id DESC LIMIT n": a backward scan of one of these that stops after n
-- rows.
CREATE INDEX sessions_status_type ON sessions (status, type, id);
CREATE INDEX sessions_status ON sessions (status, id);
CREATE INDEX sessions_type ON sessions (type, id);
CREATE INDEX sessions_user ON sessions (user_name, id);
CREATE INDEX sessions_user_status ON sessions (user_name, status, id);
CREATE INDEX sessions_resource ON sessions (resource, id);
CREATE INDEX sessions_resource_status ON sessions (resource, status, id);
CREATE INDEX sessions_ended ON sessions (ended_at) WHERE rec_state IN ('complete', 'partial');

-- Timeline events: n is the event's ordinal within its session (1 =
-- created).
CREATE TABLE session_timeline (
    session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    n          INTEGER NOT NULL,
    time       BIGINT NOT NULL,
    event      TEXT NOT NULL,
    status     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    detail     TEXT NOT NULL,
    PRIMARY KEY (session_id, n)
);

-- Audit log; fields is a JSON object or NULL.
CREATE TABLE audit_log (
    id        TEXT COLLATE "C" PRIMARY KEY,
    time      BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT COLLATE "C" NOT NULL,
    target    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    fields    JSONB
);
CREATE INDEX audit_actor ON audit_log (actor, id);

-- File activity of sessions (SFTP, scp, web), oldest first per session.
CREATE TABLE file_events (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    protocol   TEXT NOT NULL,
    op         TEXT NOT NULL,
    path       TEXT NOT NULL,
    path2      TEXT NOT NULL,
    bytes      BIGINT NOT NULL,
    result     TEXT NOT NULL,
    error      TEXT NOT NULL
);
CREATE INDEX file_events_session ON file_events (session_id, seq);

-- Whether each recording's text is indexed for search (see textindex.go).
-- One row per recording whose indexing began; num numbers it in the
-- index. state is 'indexing' (an attempt began; its lines are not
-- searchable yet), 'done' (the lines are searchable), 'failed' or
-- 'missing'.
CREATE TABLE recording_text_state (
    num        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES sessions (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    lines      BIGINT NOT NULL DEFAULT 0,
    error      TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

-- Text of recordings, one row per line: kind is 'o' (output) or 'i'
-- (input), t the line's offset in the session in milliseconds, pos its
-- position in the recording's text. words is the line's words, lower
-- case, at their positions (built by the store, not by a text search
-- configuration, so that words split as in the SQLite store's FTS5
-- index); a phrase is a tsquery of words at consecutive positions.
CREATE TABLE recording_text (
    num        BIGINT NOT NULL REFERENCES recording_text_state (num) ON DELETE CASCADE,
    pos        BIGINT NOT NULL,
    session_id TEXT COLLATE "C" NOT NULL,
    kind       CHAR(1) NOT NULL,
    t          BIGINT NOT NULL,
    line       TEXT NOT NULL,
    words      TSVECTOR NOT NULL,
    PRIMARY KEY (num, pos)
);
CREATE INDEX recording_text_words ON recording_text USING GIN (words);

-- Settings changed at run time (recording storage, retention), by key;
-- value is JSON text.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);

-- The Ed25519 public keys agents sign their recordings with; every key
-- an agent ever announced is kept.
CREATE TABLE agent_signing_keys (
    agent_id   TEXT COLLATE "C" NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    public_key BYTEA NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (agent_id, public_key)
);

-- Where each recording is stored: the name of the blob store that took
-- its first chunk.
CREATE TABLE recording_locations (
    session_id TEXT COLLATE "C" PRIMARY KEY,
    store      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
