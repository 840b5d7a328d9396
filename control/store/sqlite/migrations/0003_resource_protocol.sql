-- The protocol serving each resource, as the agent announces it (tcp, ssh,
-- postgres, mysql, http, vnc): the web console's database page needs to
-- know postgres from mysql. '' for resources announced by older agents.
ALTER TABLE resources ADD COLUMN protocol TEXT NOT NULL DEFAULT '';
