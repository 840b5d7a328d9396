-- 0001_init: the first schema of onepam's control database.
--
-- Times are INTEGER Unix nanoseconds, UTC; NULL means "never" / "not yet".
-- Lists and maps are JSON text. Session and audit ids are canonical
-- lowercase UUIDv7 strings, so ordering by id is ordering by creation time.

CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- API tokens. hash is the SHA-256 of the secret. Tokens outlive their user
-- (revoked) so that the audit trail can still name them.
CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL,
    name         TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX tokens_user ON tokens (user_name, created_at);

-- One-time agent enrollment tokens.
CREATE TABLE enroll_tokens (
    hash       BLOB PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;

-- Agents. A name is unique among non-revoked agents, so a host whose agent
-- was removed can enroll again under the same name.
CREATE TABLE agents (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    hostname    TEXT NOT NULL,
    version     TEXT NOT NULL,
    cert_serial TEXT NOT NULL,
    enrolled_at INTEGER NOT NULL,
    last_seen_at INTEGER,
    revoked_at  INTEGER,
    remote_addr TEXT NOT NULL
);
CREATE UNIQUE INDEX agents_live_name ON agents (name) WHERE revoked_at IS NULL;
CREATE INDEX agents_name ON agents (name, enrolled_at);

-- Resources announced by agents; labels is a JSON object.
CREATE TABLE resources (
    name        TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    labels      TEXT NOT NULL,
    description TEXT NOT NULL,
    address     TEXT NOT NULL
);
CREATE INDEX resources_agent ON resources (agent_id);

-- Policy rules in the order they were added (seq).
CREATE TABLE policy_rules (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    subject     TEXT NOT NULL,
    resources   TEXT NOT NULL,
    types       TEXT NOT NULL,
    labels      TEXT NOT NULL,
    logins      TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Clustered by id (WITHOUT ROWID): rows are stored in time order, and
-- the secondary indexes below end with id, so each is read in id order.
CREATE TABLE sessions (
    id               TEXT PRIMARY KEY,
    user_name        TEXT NOT NULL,
    type             TEXT NOT NULL,
    status           TEXT NOT NULL,
    resource         TEXT NOT NULL,
    agent            TEXT NOT NULL,
    login            TEXT NOT NULL,
    client_ip        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    ended_at         INTEGER,
    bytes_up         INTEGER NOT NULL DEFAULT 0,
    bytes_down       INTEGER NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    terminated_by    TEXT NOT NULL DEFAULT '',
    terminate_reason TEXT NOT NULL DEFAULT '',
    rec_format       TEXT NOT NULL,
    rec_state        TEXT NOT NULL,
    rec_size         INTEGER NOT NULL DEFAULT 0,
    rec_available    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- Every filter combination of `onepam sessions ls` is an ordered scan of
-- one of these (newest first), never a sort of the table; the list query
-- names the index it scans (INDEXED BY), so these names are part of the
-- code. A user's own listing (role user) is always user (+ status).
CREATE INDEX sessions_status_type ON sessions (status, type, id);
CREATE INDEX sessions_status ON sessions (status, id);
CREATE INDEX sessions_type ON sessions (type, id);
CREATE INDEX sessions_user ON sessions (user_name, id);
CREATE INDEX sessions_user_status ON sessions (user_name, status, id);
CREATE INDEX sessions_resource ON sessions (resource, id);
CREATE INDEX sessions_resource_status ON sessions (resource, status, id);

-- Timeline events: n is the event's ordinal within its session (1 =
-- created), so a session's events are contiguous and in order.
CREATE TABLE session_timeline (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    n          INTEGER NOT NULL,
    time       INTEGER NOT NULL,
    event      TEXT NOT NULL,
    status     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    detail     TEXT NOT NULL,
    PRIMARY KEY (session_id, n)
) WITHOUT ROWID;

-- Audit log; fields is a JSON object or NULL.
CREATE TABLE audit_log (
    id        TEXT PRIMARY KEY,
    time      INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    fields    TEXT
);
CREATE INDEX audit_actor ON audit_log (actor, id);
