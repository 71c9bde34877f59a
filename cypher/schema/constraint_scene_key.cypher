// One Scene per (group_id, id): concurrent consolidations cannot duplicate it.
CREATE CONSTRAINT scene_key IF NOT EXISTS
FOR (n:Scene) REQUIRE (n.group_id, n.id) IS UNIQUE
