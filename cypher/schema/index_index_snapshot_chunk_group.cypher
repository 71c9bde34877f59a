// A tenant's snapshot chunks (reading a snapshot, replacing it, forget).
CREATE RANGE INDEX index_snapshot_chunk_group IF NOT EXISTS
FOR (n:IndexSnapshotChunk) ON (n.group_id)
