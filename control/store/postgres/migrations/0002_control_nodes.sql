-- 0002_control_nodes: control nodes sharing the database (the SQLite
-- store's migration 7).
--
-- One row per running control process (a node), so that nodes tell the
-- sessions and agents of a live node from those of a node that stopped.
-- A node inserts its row at start, sets heartbeat_at every few seconds and
-- deletes the row when it shuts down cleanly; a row whose heartbeat is old
-- is a node that stopped without its shutdown (crashed, killed, cut off).
CREATE TABLE control_nodes (
    id           TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

-- The node that carries each session (set at create); '' for sessions
-- from before this migration.
ALTER TABLE sessions ADD COLUMN node_id TEXT COLLATE "C" NOT NULL DEFAULT '';

-- The node an agent is attached to; '' when none (or unknown).
ALTER TABLE agents ADD COLUMN node_id TEXT COLLATE "C" NOT NULL DEFAULT '';
