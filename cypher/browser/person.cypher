// A person: persona, facets and facts
//
// The person (an entity, by name or alias) with their Persona (PERSONA_OF), its Facets
// (HAS_FACET) and the messages that support each facet (SUPPORTED_BY), the Scenes that show the
// persona (SHOWS), and the person's current facts (RELATES not superseded). Persona, facet and
// scene nodes are written by consolidation; before it has run, the person and facts show.
//
// :param group_id => "default"
// :param name => "Ana"
MATCH (person:Entity {group_id: $group_id})
WHERE toLower(person.name) = toLower($name) OR $name IN person.aliases
CALL (person) {
  OPTIONAL MATCH persona_of = (persona:Persona)-[:PERSONA_OF]->(person)
  OPTIONAL MATCH facet = (persona)-[:HAS_FACET]->(:Facet)
  OPTIONAL MATCH support = (persona)-[:HAS_FACET]->(:Facet)-[:SUPPORTED_BY]->(:Message)
  OPTIONAL MATCH scene = (:Scene)-[:SHOWS]->(persona)
  RETURN collect(DISTINCT persona_of) AS persona, collect(DISTINCT facet) AS facets,
         collect(DISTINCT support) AS support, collect(DISTINCT scene) AS scenes
}
CALL (person) {
  OPTIONAL MATCH fact = (person)-[r:RELATES]-(:Entity)
  WHERE r.superseded_by IS NULL
  RETURN collect(fact) AS facts
}
RETURN person, persona, facets, support, scenes, facts
