-- 0003_node_url: the URL of a control node's API (the SQLite store's
-- migration 8).
--
-- The URL at which the other control nodes reach a node's API
-- (--advertise-url), so that a node forwards a person's request to the
-- node holding the agent or session. '' for a row written before this
-- migration (such a node is not forwarded to).
ALTER TABLE control_nodes ADD COLUMN url TEXT NOT NULL DEFAULT '';
