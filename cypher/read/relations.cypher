// Relations of a tenant written or changed after version $since (-1: all), or those with
// $entity_id as subject or object when not null; in the order they were observed, each with all
// its source message ids.
MATCH (subject:Entity)-[r:RELATES {group_id: $group_id}]->(object:Entity)
WHERE r.version > $since AND ($entity_id IS NULL OR subject.id = $entity_id OR object.id = $entity_id)
RETURN r.id AS id, subject.id AS subject_id, object.id AS object_id, r.predicate AS predicate,
       r.fact AS fact, r.message_ids AS message_ids, r.observed_at AS observed_at,
       r.valid_from AS valid_from, r.valid_to AS valid_to, r.precision AS precision,
       r.confidence AS confidence, r.expired_at AS expired_at, r.superseded_by AS superseded_by
ORDER BY observed_at, id
