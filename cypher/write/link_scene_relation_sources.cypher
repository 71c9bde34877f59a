// Each scene's relation members, linked through their source messages: HAS_MEMBER
// {weight, relation_source: true} to a message that states one (weight: the strongest such
// relation's), unless the message is a member itself (then its own HAS_MEMBER stays).
// $scene_ids: the scenes just created.
UNWIND $scene_ids AS scene_id
MATCH (s:Scene {group_id: $group_id, id: scene_id}) USING INDEX s:Scene(group_id, id)
UNWIND range(0, size(s.relation_ids) - 1) AS i
MATCH ()-[r:RELATES {group_id: $group_id, id: s.relation_ids[i]}]->()
UNWIND r.message_ids AS message_id
MATCH (m:Message {group_id: $group_id, id: message_id}) USING INDEX m:Message(group_id, id)
WITH s, m, max(s.relation_weights[i]) AS weight
WHERE NOT EXISTS { (s)-[:HAS_MEMBER]->(m) }
CREATE (s)-[:HAS_MEMBER {weight: weight, relation_source: true}]->(m)
