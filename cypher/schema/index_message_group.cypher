// Tenant scans of Message nodes (counts, reads, delete_group).
CREATE RANGE INDEX message_group IF NOT EXISTS
FOR (n:Message) ON (n.group_id)
