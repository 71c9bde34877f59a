// A tenant's relations written or changed after a version (read/relations with $since).
CREATE RANGE INDEX relates_version IF NOT EXISTS
FOR ()-[r:RELATES]-() ON (r.group_id, r.version)
