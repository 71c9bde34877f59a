// Tenant scans of Entity nodes (counts, reads, delete_group).
CREATE RANGE INDEX entity_group IF NOT EXISTS
FOR (n:Entity) ON (n.group_id)
