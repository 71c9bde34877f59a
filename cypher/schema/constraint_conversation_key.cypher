// One Conversation per (group_id, id): concurrent MERGEs of the same conversation cannot duplicate it.
CREATE CONSTRAINT conversation_key IF NOT EXISTS
FOR (n:Conversation) REQUIRE (n.group_id, n.id) IS UNIQUE
