// A tenant's entities that nothing refers to any more: no message speaks, addresses or mentions
// them, no event has them as participant or place, no relation has them at either end, and no
// conversation lists them as a participant ($kept_ids).
// $kept_ids: entity ids of the tenant's conversation participants.
MATCH (e:Entity {group_id: $group_id})
WHERE NOT e.id IN $kept_ids
  AND NOT EXISTS { (e)<-[:SPOKEN_BY|ADDRESSED_TO|MENTIONS]-(:Message) }
  AND NOT EXISTS { (e)-[:PARTICIPATED_IN]->(:Event) }
  AND NOT EXISTS { (:Event)-[:AT]->(e) }
  AND NOT EXISTS { (e)-[:RELATES]-() }
DETACH DELETE e
