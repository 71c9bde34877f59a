// Which entities each message mentions.
// $rows: [{message_id, entity_id}]
UNWIND $rows AS row
MATCH (m:Message {group_id: $group_id, id: row.message_id})
MATCH (e:Entity {group_id: $group_id, id: row.entity_id})
MERGE (m)-[:MENTIONS]->(e)
