// Tenant scans of Scene nodes (reads, replacing them, forget).
CREATE RANGE INDEX scene_group IF NOT EXISTS
FOR (n:Scene) ON (n.group_id)
