// One Persona per (group_id, id): concurrent consolidations cannot duplicate it.
CREATE CONSTRAINT persona_key IF NOT EXISTS
FOR (n:Persona) REQUIRE (n.group_id, n.id) IS UNIQUE
