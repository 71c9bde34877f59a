// Entities of a tenant, by name.
MATCH (e:Entity {group_id: $group_id})
RETURN e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases
ORDER BY name, id
