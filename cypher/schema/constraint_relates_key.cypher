// One RELATES edge per (group_id, id): concurrent MERGEs of the same relation cannot duplicate it.
CREATE CONSTRAINT relates_key IF NOT EXISTS
FOR ()-[r:RELATES]-() REQUIRE (r.group_id, r.id) IS UNIQUE
