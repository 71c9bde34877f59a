// A message's neighbours in its conversation (NEXT links) and conversation-ordered reads.
CREATE RANGE INDEX message_turn IF NOT EXISTS
FOR (n:Message) ON (n.group_id, n.conversation_id, n.seq)
