// Tenant scans of Event nodes (counts, reads, forget).
CREATE RANGE INDEX event_group IF NOT EXISTS
FOR (n:Event) ON (n.group_id)
