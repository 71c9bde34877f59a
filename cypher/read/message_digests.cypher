// Source message id -> content digest for every stored message of a conversation.
MATCH (m:Message {group_id: $group_id, conversation_id: $conversation_id})
RETURN m.source_id AS source_id, m.digest AS digest
