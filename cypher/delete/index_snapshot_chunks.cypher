// The chunks of the tenant's previous snapshot, before a new one's are written.
MATCH (c:IndexSnapshotChunk {group_id: $group_id})
DELETE c
