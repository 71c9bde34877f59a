// A snapshot's bytes, in chunks numbered from 0 and stamped with the snapshot's version.
UNWIND range(0, size($chunks) - 1) AS position
CREATE (:IndexSnapshotChunk {group_id: $group_id, version: $version, position: position, data: $chunks[position]})
