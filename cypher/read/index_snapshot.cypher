// The tenant's snapshot if it has the key and reflects version $since or a later one: its
// chunks in order (only those stamped with its version; the reader checks they are all there).
MATCH (s:IndexSnapshot {group_id: $group_id})
WHERE s.key = $key AND s.version >= $since
MATCH (c:IndexSnapshotChunk {group_id: $group_id})
WHERE c.version = s.version
RETURN s.key AS key, s.version AS version, s.chunks AS chunks, c.data AS data
ORDER BY c.position
