// One Entity per (group_id, id): concurrent MERGEs of the same entity cannot duplicate it.
CREATE CONSTRAINT entity_key IF NOT EXISTS
FOR (n:Entity) REQUIRE (n.group_id, n.id) IS UNIQUE
