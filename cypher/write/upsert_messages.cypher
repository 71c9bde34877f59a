// Messages of a batch with their links to the conversation, the speaker and the addressee.
// A rewritten message loses its old links first. Turn links (NEXT) are link_turns' work.
// $rows: [{id, source_id, conversation_id, seq, speaker, speaker_id, addressee_id, text,
//          caption, ts, session, digest, excerpt}], sorted by id. `excerpt` ("Ana (2024-05-02): I
//          moved to…") is what Neo4j Browser shows as the message's caption (cypher/browser/).
// $version: the write's tenant version (write/bump_version), stamped on every message.
UNWIND $rows AS row
MERGE (m:Message {group_id: $group_id, id: row.id})
SET m.source_id = row.source_id,
    m.conversation_id = row.conversation_id,
    m.seq = row.seq,
    m.speaker = row.speaker,
    m.speaker_id = row.speaker_id,
    m.addressee_id = row.addressee_id,
    m.text = row.text,
    m.caption = row.caption,
    m.ts = row.ts,
    m.session = row.session,
    m.digest = row.digest,
    m.excerpt = row.excerpt,
    m.version = $version
WITH m
CALL (m) {
  MATCH (m)-[old:IN|SPOKEN_BY|ADDRESSED_TO]->()
  DELETE old
}
CALL (m) {
  MATCH (c:Conversation {group_id: m.group_id, source_id: m.conversation_id})
  USING INDEX c:Conversation(group_id, source_id)
  MERGE (m)-[:IN]->(c)
}
CALL (m) {
  MATCH (speaker:Entity {group_id: m.group_id, id: m.speaker_id}) USING INDEX speaker:Entity(group_id, id)
  MERGE (m)-[:SPOKEN_BY]->(speaker)
}
CALL (m) {
  MATCH (addressee:Entity {group_id: m.group_id, id: m.addressee_id}) USING INDEX addressee:Entity(group_id, id)
  MERGE (m)-[:ADDRESSED_TO]->(addressee)
}
