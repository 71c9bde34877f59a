// A scene: its messages, events and facts
//
// One scene: the one whose id is $scene, else the largest whose label contains $scene, else the
// largest that involves an entity called $scene. Shown with its member messages and events
// (HAS_MEMBER {weight}), the entities and personas it involves (INVOLVES, SHOWS) and its facts
// (the RELATES edges it holds as relation_ids). Scenes are written by `graphmem consolidate`.
//
// :param group_id => "default"
// :param scene => "Maya"
MATCH (scene:Scene {group_id: $group_id})
WHERE scene.id = $scene OR toLower(scene.label) CONTAINS toLower($scene)
   OR EXISTS { (scene)-[:INVOLVES]->(entity:Entity) WHERE toLower(entity.name) = toLower($scene) }
WITH scene
ORDER BY scene.id = $scene DESC, toLower(scene.label) CONTAINS toLower($scene) DESC, scene.size DESC
LIMIT 1
CALL (scene) {
  OPTIONAL MATCH member = (scene)-[:HAS_MEMBER]->(:Message|Event)
  RETURN collect(member) AS members
}
CALL (scene) {
  OPTIONAL MATCH involves = (scene)-[:INVOLVES|SHOWS]->()
  RETURN collect(involves) AS involved
}
CALL (scene) {
  UNWIND coalesce(scene.relation_ids, []) AS relation_id
  MATCH fact = ()-[:RELATES {group_id: $group_id, id: relation_id}]->()
  RETURN collect(fact) AS facts
}
RETURN scene, members, involved, facts
