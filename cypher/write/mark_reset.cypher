// The last statement of a write transaction that was not an append (a rewrite, a deletion,
// scenes or personas): in-memory indexes older than this version rebuild instead of extending.
MATCH (v:TenantVersion {group_id: $group_id})
SET v.reset = v.version
