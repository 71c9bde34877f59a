// Events of rewritten messages that the batch no longer has (the others it updates in place).
// $message_ids: ids of messages already stored that the batch rewrites;
// $kept_event_ids: ids of the batch's events.
UNWIND $message_ids AS message_id
MATCH (m:Message {group_id: $group_id, id: message_id})<-[:FROM]-(e:Event)
USING INDEX m:Message(group_id, id)
WHERE NOT e.id IN $kept_event_ids
DETACH DELETE e
