// Which entities each message of a tenant mentions.
MATCH (m:Message {group_id: $group_id})-[:MENTIONS]->(e:Entity)
RETURN m.id AS message_id, e.id AS entity_id
ORDER BY message_id, entity_id
