-- Recording integrity, storage and retention (issue 4).
--
-- The Ed25519 public keys agents sign their recordings with, as announced
-- in their hellos; every key an agent ever announced is kept, so a
-- recording signed before a key change still verifies.
CREATE TABLE agent_signing_keys (
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    public_key BLOB NOT NULL,   -- 32 bytes
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (agent_id, public_key)
) WITHOUT ROWID;

-- Settings changed at run time (recording storage, retention), by key;
-- value is JSON.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- Where each recording is stored: the name of the blob store that took
-- its first chunk (a store's id, see control/recordings), so switching the
-- storage keeps older recordings readable where they are.
CREATE TABLE recording_locations (
    session_id TEXT PRIMARY KEY,
    store      TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
