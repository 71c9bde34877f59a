// Turn adjacency: each written message is linked to the turns just before and after it in its
// conversation, and a link that jumped over it (written before it existed) is removed.
// $message_ids: the ids of the batch's messages.
UNWIND $message_ids AS message_id
MATCH (m:Message {group_id: $group_id, id: message_id})
OPTIONAL CALL (m) {
  MATCH (before:Message {group_id: m.group_id, conversation_id: m.conversation_id})
  WHERE before.seq < m.seq
  RETURN before ORDER BY before.seq DESC LIMIT 1
}
OPTIONAL CALL (m) {
  MATCH (after:Message {group_id: m.group_id, conversation_id: m.conversation_id})
  WHERE after.seq > m.seq
  RETURN after ORDER BY after.seq ASC LIMIT 1
}
CALL (before, after) {
  MATCH (before)-[jump:NEXT]->(after)
  DELETE jump
}
CALL (before, m) {
  WITH * WHERE before IS NOT NULL
  MERGE (before)-[:NEXT]->(m)
}
CALL (m, after) {
  WITH * WHERE after IS NOT NULL
  MERGE (m)-[:NEXT]->(after)
}
