// Entities of a tenant written or changed after version $since (-1: all), by name.
MATCH (e:Entity {group_id: $group_id})
WHERE e.version > $since
RETURN e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases
ORDER BY name, id
