// Tenant scans of Message nodes (counts, reads, forget).
CREATE RANGE INDEX message_group IF NOT EXISTS
FOR (n:Message) ON (n.group_id)
