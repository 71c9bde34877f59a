// A tenant's entities written or changed after a version (read/entities with $since).
CREATE RANGE INDEX entity_version IF NOT EXISTS
FOR (n:Entity) ON (n.group_id, n.version)
