// Tenant scans of Conversation nodes (counts, reads, forget).
CREATE RANGE INDEX conversation_group IF NOT EXISTS
FOR (n:Conversation) ON (n.group_id)
