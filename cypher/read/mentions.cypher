// Which entities each message of a tenant written after version $since (-1: all) mentions, by
// entity then message (the order the SQLite store returns them in: ranking sums edge weights in
// this order, so stores agree).
MATCH (m:Message {group_id: $group_id})-[:MENTIONS]->(e:Entity)
WHERE m.version > $since
RETURN m.id AS message_id, e.id AS entity_id
ORDER BY entity_id, message_id
