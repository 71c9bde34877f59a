// Personas of a tenant, each linked to its participant (PERSONA_OF) and to its facets
// (HAS_FACET {position}), each facet to the messages that support it (SUPPORTED_BY). A facet
// keeps its facts as parallel lists: facts (text, what Browser shows), fact_ids, fact_kinds,
// fact_message_ids, fact_current, fact_moved_from ("" when not moved).
// $rows: [{id, entity_id, name, summary, facets: [{id, position, label, facts, fact_ids,
//          fact_kinds, fact_message_ids, fact_current, fact_moved_from, evidence}]}], sorted by id.
UNWIND $rows AS row
MERGE (p:Persona {group_id: $group_id, id: row.id})
SET p.name = row.name,
    p.summary = row.summary
WITH p, row
CALL (p, row) {
  MATCH (p)-[old:PERSONA_OF]->()
  DELETE old
}
CALL (p, row) {
  MATCH (e:Entity {group_id: $group_id, id: row.entity_id}) USING INDEX e:Entity(group_id, id)
  CREATE (p)-[:PERSONA_OF]->(e)
}
CALL (p, row) {
  UNWIND row.facets AS facet
  CREATE (f:Facet {group_id: $group_id, id: facet.id})
  SET f.label = facet.label,
      f.facts = facet.facts,
      f.fact_ids = facet.fact_ids,
      f.fact_kinds = facet.fact_kinds,
      f.fact_message_ids = facet.fact_message_ids,
      f.fact_current = facet.fact_current,
      f.fact_moved_from = facet.fact_moved_from
  CREATE (p)-[:HAS_FACET {position: facet.position}]->(f)
  WITH f, facet
  UNWIND facet.evidence AS message_id
  MATCH (m:Message {group_id: $group_id, id: message_id}) USING INDEX m:Message(group_id, id)
  CREATE (f)-[:SUPPORTED_BY]->(m)
}
