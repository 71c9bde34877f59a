// Tenant scans of RELATES edges (reads, counts, provenance clean-up).
CREATE RANGE INDEX relates_group IF NOT EXISTS
FOR ()-[r:RELATES]-() ON (r.group_id)
