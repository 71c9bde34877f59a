// Messages removed from their conversation, with their links (NEXT, IN, SPOKEN_BY, ...); what was
// extracted from them is forgotten first (forget_mentions, forget_events, forget_relation_sources).
// $message_ids: ids of the messages to remove.
UNWIND $message_ids AS message_id
MATCH (m:Message {group_id: $group_id, id: message_id}) USING INDEX m:Message(group_id, id)
DETACH DELETE m
