// Tenant scans of Entity nodes (counts, reads, forget).
CREATE RANGE INDEX entity_group IF NOT EXISTS
FOR (n:Entity) ON (n.group_id)
