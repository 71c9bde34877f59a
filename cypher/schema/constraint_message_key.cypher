// One Message per (group_id, id): concurrent MERGEs of the same message cannot duplicate it.
CREATE CONSTRAINT message_key IF NOT EXISTS
FOR (n:Message) REQUIRE (n.group_id, n.id) IS UNIQUE
