// A message finds its Conversation by the conversation id the input gave it.
CREATE RANGE INDEX conversation_source IF NOT EXISTS
FOR (n:Conversation) ON (n.group_id, n.source_id)
