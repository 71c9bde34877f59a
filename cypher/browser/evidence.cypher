// The evidence behind an answer
//
// The messages an answer rests on ($message_ids: the `message_id` values that
// `graphmem search --json` prints), with the paths that tie them together: the speaker
// (SPOKEN_BY), the turns just before and after (NEXT), the entities mentioned (MENTIONS), the
// events extracted from them (FROM) with their participants, the facts they state (RELATES)
// and the scenes they belong to (HAS_MEMBER).
//
// :param group_id => "default"
// :param message_ids => ["<message_id>", "<message_id>"]
UNWIND $message_ids AS message_id
MATCH (message:Message {group_id: $group_id, id: message_id})
MATCH spoken = (message)-[:SPOKEN_BY]->(:Entity)
CALL (message) {
  OPTIONAL MATCH turn = (message)-[:NEXT]-(:Message)
  OPTIONAL MATCH mention = (message)-[:MENTIONS]->(:Entity)
  RETURN collect(DISTINCT turn) + collect(DISTINCT mention) AS context
}
CALL (message) {
  OPTIONAL MATCH event = (:Entity)-[:PARTICIPATED_IN]->(:Event)-[:FROM]->(message)
  RETURN collect(event) AS events
}
CALL (message) {
  OPTIONAL MATCH (message)-[:MENTIONS|SPOKEN_BY]->(:Entity)-[r:RELATES]-(:Entity)
  WHERE message.id IN r.message_ids
  OPTIONAL MATCH fact = ()-[r]->()
  RETURN collect(DISTINCT fact) AS facts
}
CALL (message) {
  OPTIONAL MATCH scene = (:Scene)-[:HAS_MEMBER]->(message)
  RETURN collect(scene) AS scenes
}
RETURN message.text AS text, spoken, context, events, facts, scenes
ORDER BY message.ts
