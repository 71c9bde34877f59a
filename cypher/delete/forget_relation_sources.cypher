// Rewritten messages stop being sources of the relations they stated; the batch re-adds those
// it states again, and prune_relations then removes relations left without a source.
// $message_ids: ids of messages already stored that the batch rewrites.
// Returns the ids and subjects of the relations it touched (their subjects' supersession is
// recomputed after the write).
MATCH ()-[r:RELATES {group_id: $group_id}]->()
WHERE any(source IN r.message_ids WHERE source IN $message_ids)
SET r._lock = true
WITH r
SET r.message_ids = [source IN r.message_ids WHERE NOT source IN $message_ids]
REMOVE r._lock
RETURN r.id AS id, startNode(r).id AS subject_id
