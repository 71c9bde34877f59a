// The mentions of rewritten messages; the batch links them anew.
// $message_ids: ids of messages already stored that the batch rewrites.
UNWIND $message_ids AS message_id
MATCH (:Message {group_id: $group_id, id: message_id})-[mention:MENTIONS]->(:Entity)
DELETE mention
