// What changed: superseded facts, old and new
//
// Every fact (RELATES) that a later statement superseded, beside the fact that superseded it
// (`superseded_by`): `was` stopped being true at its valid_to, and the memory learned of the
// change at its expired_at. Newest changes first.
//
// :param group_id => "default"
MATCH was = (:Entity)-[old:RELATES {group_id: $group_id}]->(:Entity)
WHERE old.superseded_by IS NOT NULL
MATCH now = (:Entity)-[new:RELATES {group_id: $group_id, id: old.superseded_by}]->(:Entity)
RETURN old.fact AS before, new.fact AS after, old.valid_to AS changed_on, old.expired_at AS learned_at,
       was, now
ORDER BY learned_at DESC, changed_on DESC
