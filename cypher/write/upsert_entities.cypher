// Entities of a batch, created or refined: a stored `thing` takes the new type, any other type
// stays (graphmem.models.refined_type); aliases accumulate. The node is write-locked (`_lock`)
// before its old values are read, so concurrent writers cannot lose each other's aliases.
// $rows: [{id, name, type, aliases}], sorted by id so that writers lock in the same order.
// $version: the write's tenant version (write/bump_version), stamped on every entity it touches.
UNWIND $rows AS row
MERGE (e:Entity {group_id: $group_id, id: row.id})
  ON CREATE SET e.name = row.name, e.type = row.type, e.aliases = row.aliases
  ON MATCH SET e._lock = true
WITH e, row
SET e.type = CASE e.type WHEN 'thing' THEN row.type ELSE e.type END,
    e.aliases = e.aliases + [alias IN row.aliases WHERE NOT alias IN e.aliases],
    e.version = $version
REMOVE e._lock
