// Which of these message ids are already stored.
// $message_ids: candidate ids.
UNWIND $message_ids AS message_id
MATCH (m:Message {group_id: $group_id, id: message_id}) USING INDEX m:Message(group_id, id)
RETURN m.id AS id
