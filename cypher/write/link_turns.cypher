// Turn adjacency: the messages of each conversation the batch wrote to are chained in seq
// order by NEXT, and any NEXT that no longer joins two consecutive turns is removed.
// $conversation_ids: the conversation ids (as the input gave them) of the batch's messages.
UNWIND $conversation_ids AS conversation_id
CALL (conversation_id) {
  MATCH (m:Message {group_id: $group_id, conversation_id: conversation_id})
  WHERE m.seq IS NOT NULL
  WITH m ORDER BY m.seq
  WITH collect(m) AS turns
  UNWIND range(0, size(turns) - 1) AS i
  WITH turns[i] AS turn, turns[i + 1] AS next_turn
  CALL (turn, next_turn) {
    MATCH (turn)-[stale:NEXT]->(other)
    WHERE next_turn IS NULL OR other <> next_turn
    DELETE stale
  }
  CALL (turn, next_turn) {
    WITH * WHERE next_turn IS NOT NULL
    MERGE (turn)-[:NEXT]->(next_turn)
  }
}
