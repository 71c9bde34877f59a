// Tenant scans of Conversation nodes (counts, reads, delete_group).
CREATE RANGE INDEX conversation_group IF NOT EXISTS
FOR (n:Conversation) ON (n.group_id)
