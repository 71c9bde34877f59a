// Events of a batch: the node, the message it came from (FROM), its place (AT) and its
// participants (PARTICIPATED_IN {role}). A rewritten event loses its old links first.
// $rows: [{id, message_id, predicate, summary, ts_start, ts_end, precision, place_id,
//          participants: [{entity_id, role}]}], sorted by id.
UNWIND $rows AS row
MERGE (e:Event {group_id: $group_id, id: row.id})
SET e.message_id = row.message_id,
    e.predicate = row.predicate,
    e.summary = row.summary,
    e.ts_start = row.ts_start,
    e.ts_end = row.ts_end,
    e.precision = row.precision,
    e.place_id = row.place_id
WITH e, row
CALL (e) {
  MATCH (e)-[old:FROM|AT]->()
  DELETE old
}
CALL (e) {
  MATCH ()-[old:PARTICIPATED_IN]->(e)
  DELETE old
}
CALL (e) {
  MATCH (m:Message {group_id: e.group_id, id: e.message_id}) USING INDEX m:Message(group_id, id)
  MERGE (e)-[:FROM]->(m)
}
CALL (e) {
  MATCH (place:Entity {group_id: e.group_id, id: e.place_id}) USING INDEX place:Entity(group_id, id)
  MERGE (e)-[:AT]->(place)
}
CALL (e, row) {
  UNWIND row.participants AS participant
  MATCH (member:Entity {group_id: e.group_id, id: participant.entity_id})
  USING INDEX member:Entity(group_id, id)
  MERGE (member)-[:PARTICIPATED_IN {role: participant.role}]->(e)
}
