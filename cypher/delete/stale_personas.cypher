// A tenant's personas that write_personas does not write again, with their facets; and the
// facets of every persona (they are written anew). Kept personas keep their SHOWS links.
// $persona_ids: the ids of the personas being written.
CALL () {
  MATCH (p:Persona {group_id: $group_id})
  WHERE NOT p.id IN $persona_ids
  DETACH DELETE p
}
CALL () {
  MATCH (f:Facet {group_id: $group_id})
  DETACH DELETE f
}
