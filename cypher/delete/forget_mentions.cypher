// The mentions of rewritten messages; the batch links them anew.
// $message_ids: ids of messages already stored that the batch rewrites.
UNWIND $message_ids AS message_id
MATCH (m:Message {group_id: $group_id, id: message_id})-[mention:MENTIONS]->(:Entity)
USING INDEX m:Message(group_id, id)
DELETE mention
