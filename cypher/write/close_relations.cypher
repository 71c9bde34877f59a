// The supersession state of relations, as graphmem.store.supersession computed it: valid_to (world
// time), expired_at (memory time) and the id of the relation that superseded it (null: current).
// $rows: [{id, valid_to, expired_at, superseded_by}], sorted by id. $version: the write's version.
UNWIND $rows AS row
MATCH ()-[r:RELATES {group_id: $group_id, id: row.id}]->()
SET r.valid_to = row.valid_to, r.expired_at = row.expired_at, r.superseded_by = row.superseded_by,
    r.version = $version
