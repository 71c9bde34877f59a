// Tenant scans of Facet nodes (reads, replacing them, forget).
CREATE RANGE INDEX facet_group IF NOT EXISTS
FOR (n:Facet) ON (n.group_id)
