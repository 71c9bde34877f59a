// Events of a tenant's messages written after version $since (-1: all), or only those
// $entity_id took part in when not null; in message order, each with its participants as
// [entity id, role] pairs.
MATCH (m:Message {group_id: $group_id})
WHERE m.version > $since
MATCH (e:Event {group_id: $group_id})-[:FROM]->(m)
WHERE $entity_id IS NULL
   OR EXISTS { (:Entity {group_id: $group_id, id: $entity_id})-[:PARTICIPATED_IN]->(e) }
CALL (e) {
  MATCH (member:Entity)-[p:PARTICIPATED_IN]->(e)
  WITH member, p ORDER BY p.role, member.id
  RETURN collect([member.id, p.role]) AS participants
}
RETURN e.id AS id, e.message_id AS message_id, e.predicate AS predicate, e.summary AS summary,
       participants, e.ts_start AS ts_start, e.ts_end AS ts_end, e.precision AS precision,
       e.place_id AS place_id
ORDER BY m.conversation_id, m.seq, id
