// A tenant's messages written after a version (read/messages with $since: an index catching up).
CREATE RANGE INDEX message_version IF NOT EXISTS
FOR (n:Message) ON (n.group_id, n.version)
