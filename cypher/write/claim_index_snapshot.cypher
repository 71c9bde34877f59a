// Take the tenant's snapshot slot for a new snapshot unless the one kept has the same key and is
// newer (one as new is replaced: it may be unreadable), or a write that was not an append (a
// rewrite, consolidation, forget) came after the snapshot's version: such a snapshot could never
// be used. The MERGE locks the slot, so concurrent saves take turns. Returns a row only if taken.
MATCH (v:TenantVersion {group_id: $group_id})
WHERE v.reset <= $version
MERGE (s:IndexSnapshot {group_id: $group_id})
WITH s
WHERE s.key IS NULL OR s.key <> $key OR s.version <= $version
SET s.key = $key, s.version = $version, s.chunks = $chunks
RETURN s.version AS version
