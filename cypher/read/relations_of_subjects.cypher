// Every relation of a tenant whose subject is one of $subject_ids: what supersession is decided
// over (graphmem.store.supersession). Same columns as read/relations.
MATCH (subject:Entity)-[r:RELATES {group_id: $group_id}]->(object:Entity)
WHERE subject.id IN $subject_ids
RETURN r.id AS id, subject.id AS subject_id, object.id AS object_id, r.predicate AS predicate,
       r.fact AS fact, r.message_ids AS message_ids, r.observed_at AS observed_at,
       r.valid_from AS valid_from, r.valid_to AS valid_to, r.precision AS precision,
       r.confidence AS confidence, r.expired_at AS expired_at, r.superseded_by AS superseded_by
ORDER BY id
