// Tenant scans of Scene nodes (reads, replacing them, delete_group).
CREATE RANGE INDEX scene_group IF NOT EXISTS
FOR (n:Scene) ON (n.group_id)
