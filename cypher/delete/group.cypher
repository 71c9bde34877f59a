// Everything stored for one tenant, and nothing else (RELATES edges go with their entities).
// Deleted in batches, each its own transaction, so that a tenant of any size fits the heap: run
// it in an auto-commit transaction (CALL ... IN TRANSACTIONS cannot run inside another one).
CALL () {
  MATCH (n:Conversation {group_id: $group_id}) RETURN n
  UNION ALL
  MATCH (n:Message {group_id: $group_id}) RETURN n
  UNION ALL
  MATCH (n:Event {group_id: $group_id}) RETURN n
  UNION ALL
  MATCH (n:Entity {group_id: $group_id}) RETURN n
  UNION ALL
  MATCH (n:Scene|Persona|Facet {group_id: $group_id}) RETURN n
  UNION ALL
  MATCH (n:IndexSnapshot|IndexSnapshotChunk {group_id: $group_id}) RETURN n
}
CALL (n) {
  DETACH DELETE n
} IN TRANSACTIONS OF 1000 ROWS
