// One Event per (group_id, id): concurrent MERGEs of the same event cannot duplicate it.
CREATE CONSTRAINT event_key IF NOT EXISTS
FOR (n:Event) REQUIRE (n.group_id, n.id) IS UNIQUE
