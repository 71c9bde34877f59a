// A tenant's write version and the last version that was not an append (no row: never written).
MATCH (v:TenantVersion {group_id: $group_id})
RETURN v.version AS version, v.reset AS reset
