// Relations left without any source message are removed.
// $relation_ids: candidates (the relations forget_relation_sources touched).
UNWIND $relation_ids AS relation_id
MATCH ()-[r:RELATES {group_id: $group_id, id: relation_id}]->() USING INDEX r:RELATES(group_id, id)
WHERE size(r.message_ids) = 0
DELETE r
