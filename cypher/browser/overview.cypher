// Overview: a conversation at a glance
//
// Each conversation of the group with its first six turns in order (NEXT), who spoke each one
// (SPOKEN_BY) and the entities they mention (MENTIONS). Start here.
//
// :param group_id => "default"
MATCH (conversation:Conversation {group_id: $group_id})
CALL (conversation) {
  MATCH (message:Message)-[:IN]->(conversation)
  WITH message ORDER BY message.seq LIMIT 6
  RETURN collect(message) AS turns
}
UNWIND turns AS message
MATCH in_conversation = (message)-[:IN]->(conversation)
MATCH spoken = (message)-[:SPOKEN_BY]->(:Entity)
OPTIONAL MATCH turn = (message)-[:NEXT]->(following:Message) WHERE following IN turns
CALL (message) {
  OPTIONAL MATCH mention = (message)-[:MENTIONS]->(:Entity)
  RETURN collect(mention) AS mentions
}
RETURN in_conversation, spoken, turn, mentions
ORDER BY conversation.source_id, message.seq
