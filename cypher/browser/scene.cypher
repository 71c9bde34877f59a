// A scene: its messages, events and facts
//
// The scene whose id is $scene, or the largest one whose label contains it: its member messages
// and events (HAS_MEMBER {weight}), the entities it involves (INVOLVES), the personas it shows
// (SHOWS), and the facts (RELATES) stated in its messages. Scenes are written by consolidation.
//
// :param group_id => "default"
// :param scene => "Kyoto"
MATCH (scene:Scene {group_id: $group_id})
WHERE scene.id = $scene OR toLower(scene.label) CONTAINS toLower($scene)
WITH scene ORDER BY scene.id = $scene DESC, scene.size DESC LIMIT 1
CALL (scene) {
  OPTIONAL MATCH member = (scene)-[:HAS_MEMBER]->(:Message|Event)
  RETURN collect(member) AS members
}
CALL (scene) {
  OPTIONAL MATCH involves = (scene)-[:INVOLVES|SHOWS]->()
  RETURN collect(involves) AS involved
}
CALL (scene) {
  OPTIONAL MATCH (scene)-[:HAS_MEMBER]->(message:Message)-[:MENTIONS|SPOKEN_BY]->(:Entity)-[r:RELATES]-(:Entity)
  WHERE message.id IN r.message_ids
  OPTIONAL MATCH fact = ()-[r]->()
  RETURN collect(DISTINCT fact) AS facts
}
RETURN scene, members, involved, facts
