// Tenant scans of Persona nodes (reads, replacing them, forget).
CREATE RANGE INDEX persona_group IF NOT EXISTS
FOR (n:Persona) ON (n.group_id)
