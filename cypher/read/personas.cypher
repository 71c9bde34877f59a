// Personas of a tenant by name, each with its participant (PERSONA_OF) and its facets in
// order, each facet with its facts (parallel lists, see write/upsert_personas) and the ids of
// the messages that support it.
MATCH (p:Persona {group_id: $group_id})
CALL (p) {
  OPTIONAL MATCH (p)-[h:HAS_FACET]->(f:Facet)
  WITH f ORDER BY h.position
  RETURN collect(f {.id, .label, .facts, .fact_ids, .fact_kinds, .fact_message_ids, .fact_current,
                    .fact_moved_from, evidence: [(f)-[:SUPPORTED_BY]->(m:Message) | m.id]}) AS facets
}
RETURN p.id AS id, [(p)-[:PERSONA_OF]->(e:Entity) | e.id][0] AS entity_id, p.name AS name,
       p.summary AS summary, facets
ORDER BY name, id
