// One Facet per (group_id, id): concurrent consolidations cannot duplicate it.
CREATE CONSTRAINT facet_key IF NOT EXISTS
FOR (n:Facet) REQUIRE (n.group_id, n.id) IS UNIQUE
