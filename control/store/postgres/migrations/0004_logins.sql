-- 0004_logins: web console sessions, app logins and app launch codes (the
-- SQLite store's migration 9).
--
-- Logins kept in the database, so that every control node accepts them
-- and a restart keeps them. Each row is named by the SHA-256 of its
-- secret (a cookie value, a code); the secret itself is never stored.
-- Expired rows are deleted by a periodic sweep.

-- The web console's sessions. token_id and token_hash name the API token
-- the session was opened with (token_hash as in tokens.hash), both empty
-- for a password login. last_used_at is written at most about once a
-- minute; idle_expires_at is last_used_at plus the idle timeout, and
-- expires_at the absolute end (NULL: none).
CREATE TABLE web_sessions (
    hash            BYTEA PRIMARY KEY,
    user_name       TEXT COLLATE "C" NOT NULL,
    token_id        TEXT COLLATE "C" NOT NULL,
    token_hash      BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    expires_at      BIGINT
);
CREATE INDEX web_sessions_idle ON web_sessions (idle_expires_at);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at) WHERE expires_at IS NOT NULL;

-- The published apps' logins (app cookies), each made from a web session
-- (web_session_key, its hash) and ending with it.
CREATE TABLE app_logins (
    hash            BYTEA PRIMARY KEY,
    app             TEXT COLLATE "C" NOT NULL,
    web_session_key BYTEA NOT NULL,
    user_name       TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX app_logins_web_session ON app_logins (web_session_key);
CREATE INDEX app_logins_expires ON app_logins (expires_at);

-- One-time launch codes of app logins (they live a minute): taken by one
-- DELETE ... RETURNING, so a code is exchanged once whatever the node.
CREATE TABLE app_codes (
    hash            BYTEA PRIMARY KEY,
    app             TEXT COLLATE "C" NOT NULL,
    state           TEXT NOT NULL,
    web_session_key BYTEA NOT NULL,
    user_name       TEXT COLLATE "C" NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX app_codes_expires ON app_codes (expires_at);
