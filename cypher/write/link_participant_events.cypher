// Each participant's events in time order, chained by NEXT_EVENT {entity_id}: what "what did X
// do after Y" and "when did X first ..." walk. Order: the event's own time (ts_start), else the
// day of the message it came from; then message time, turn, id. Stale links are removed.
// $entity_ids: the participants whose chains the batch may have changed.
UNWIND $entity_ids AS entity_id
CALL (entity_id) {
  MATCH (:Entity {group_id: $group_id, id: entity_id})-[:PARTICIPATED_IN]->(e:Event)-[:FROM]->(m:Message)
  WITH DISTINCT e, m
  ORDER BY coalesce(e.ts_start, date(m.ts)), m.ts, m.seq, e.id
  WITH collect(e) AS events
  UNWIND range(0, size(events) - 1) AS i
  WITH events[i] AS event, events[i + 1] AS next_event
  CALL (event, next_event, entity_id) {
    MATCH (event)-[stale:NEXT_EVENT {entity_id: entity_id}]->(other)
    WHERE next_event IS NULL OR other <> next_event
    DELETE stale
  }
  CALL (event, next_event, entity_id) {
    WITH * WHERE next_event IS NOT NULL
    MERGE (event)-[:NEXT_EVENT {group_id: $group_id, entity_id: entity_id}]->(next_event)
  }
}
