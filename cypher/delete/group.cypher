// Everything stored for one tenant, and nothing else (RELATES edges go with their entities).
CALL () {
  MATCH (n:Conversation {group_id: $group_id})
  DETACH DELETE n
}
CALL () {
  MATCH (n:Message {group_id: $group_id})
  DETACH DELETE n
}
CALL () {
  MATCH (n:Event {group_id: $group_id})
  DETACH DELETE n
}
CALL () {
  MATCH (n:Entity {group_id: $group_id})
  DETACH DELETE n
}
CALL () {
  MATCH (n:Scene|Persona|Facet {group_id: $group_id})
  DETACH DELETE n
}
