// An entity's timeline
//
// What an entity (by name or alias) took part in and what is known about it, in world-time order:
// its events (PARTICIPATED_IN {role}) with their place (AT), the message each came from (FROM)
// and the entity's order of events (NEXT_EVENT); and its facts (RELATES), superseded ones
// included and marked. The table view lists them as a timeline: when, precision, what.
//
// :param group_id => "default"
// :param name => "Ana"
MATCH (entity:Entity {group_id: $group_id})
WHERE toLower(entity.name) = toLower($name) OR $name IN entity.aliases
CALL (entity) {
  MATCH took_part = (entity)-[:PARTICIPATED_IN]->(event:Event)-[:FROM]->(message:Message)
  OPTIONAL MATCH place = (event)-[:AT]->(:Entity)
  OPTIONAL MATCH next = (event)-[:NEXT_EVENT]->(:Event)<-[:PARTICIPATED_IN]-(entity)
  RETURN coalesce(event.ts_start, date(message.ts)) AS when, event.precision AS precision,
         event.summary AS what, took_part AS path, collect(place) + collect(next) AS links
  UNION ALL
  MATCH fact = (entity)-[r:RELATES]-(:Entity)
  RETURN coalesce(r.valid_from, date(r.observed_at)) AS when, r.precision AS precision,
         r.fact + CASE WHEN r.superseded_by IS NULL THEN '' ELSE ' (superseded)' END AS what,
         fact AS path, [] AS links
}
RETURN when, precision, what, path, links
ORDER BY when, what
