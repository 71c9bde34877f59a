// Which entities each message mentions.
// $rows: [{message_id, entity_id}]
UNWIND $rows AS row
MATCH (m:Message {group_id: $group_id, id: row.message_id}) USING INDEX m:Message(group_id, id)
MATCH (e:Entity {group_id: $group_id, id: row.entity_id}) USING INDEX e:Entity(group_id, id)
MERGE (m)-[:MENTIONS]->(e)
