// Relations of a batch. A new relation keeps what the batch says; a stored one keeps its first
// statement, takes the earliest observed_at and adds the message to its sources (message_ids).
// The edge is write-locked (`_lock`) before its old values are read.
// $rows: [{id, subject_id, object_id, predicate, fact, message_id, observed_at, valid_from,
//          valid_to, precision, confidence}], sorted by id.
// $version: the write's tenant version (write/bump_version), stamped on every relation it touches.
UNWIND $rows AS row
MATCH (subject:Entity {group_id: $group_id, id: row.subject_id}) USING INDEX subject:Entity(group_id, id)
MATCH (object:Entity {group_id: $group_id, id: row.object_id}) USING INDEX object:Entity(group_id, id)
MERGE (subject)-[r:RELATES {group_id: $group_id, id: row.id}]->(object)
  ON CREATE SET r.predicate = row.predicate,
                r.fact = row.fact,
                r.valid_from = row.valid_from,
                r.valid_to = row.valid_to,
                r.precision = row.precision,
                r.observed_at = row.observed_at,
                r.confidence = row.confidence,
                r.message_ids = []
  ON MATCH SET r._lock = true
WITH r, row
SET r.observed_at = CASE WHEN row.observed_at < r.observed_at THEN row.observed_at ELSE r.observed_at END,
    r.message_ids = CASE WHEN row.message_id IN r.message_ids THEN r.message_ids
                         ELSE r.message_ids + row.message_id END,
    r.version = $version
REMOVE r._lock
