// Scenes of a tenant (the old ones deleted first: delete/scenes), each linked to its member
// messages and events (HAS_MEMBER {weight}), its participants (INVOLVES) and the personas it
// shows (SHOWS; only personas already stored). Relations are edges, so a scene keeps its
// relation members as lists (relation_ids, relation_weights); link_scene_relation_sources
// links their source messages.
// $rows: [{id, label, ts_start, ts_end, size, relation_ids, relation_weights,
//          members: [{id, kind, weight}] (messages and events), participants: [entity id],
//          persona_ids: [persona id]}], sorted by id.
UNWIND $rows AS row
CREATE (s:Scene {group_id: $group_id, id: row.id})
SET s.label = row.label,
    s.ts_start = row.ts_start,
    s.ts_end = row.ts_end,
    s.size = row.size,
    s.relation_ids = row.relation_ids,
    s.relation_weights = row.relation_weights
WITH s, row
CALL (s, row) {
  UNWIND [member IN row.members WHERE member.kind = 'message'] AS member
  MATCH (m:Message {group_id: $group_id, id: member.id}) USING INDEX m:Message(group_id, id)
  CREATE (s)-[:HAS_MEMBER {weight: member.weight}]->(m)
}
CALL (s, row) {
  UNWIND [member IN row.members WHERE member.kind = 'event'] AS member
  MATCH (e:Event {group_id: $group_id, id: member.id}) USING INDEX e:Event(group_id, id)
  CREATE (s)-[:HAS_MEMBER {weight: member.weight}]->(e)
}
CALL (s, row) {
  UNWIND row.participants AS entity_id
  MATCH (e:Entity {group_id: $group_id, id: entity_id}) USING INDEX e:Entity(group_id, id)
  CREATE (s)-[:INVOLVES]->(e)
}
CALL (s, row) {
  UNWIND row.persona_ids AS persona_id
  MATCH (p:Persona {group_id: $group_id, id: persona_id}) USING INDEX p:Persona(group_id, id)
  CREATE (s)-[:SHOWS]->(p)
}
