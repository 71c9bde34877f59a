// Scenes of a tenant in time order, each with its members (messages and events through
// HAS_MEMBER, relations from relation_ids: only those still stored), participants (INVOLVES)
// and the personas it shows (SHOWS). HAS_MEMBER links that only stand for a relation member's
// source message (relation_source) are not members.
MATCH (s:Scene {group_id: $group_id})
RETURN s.id AS id, s.label AS label, s.ts_start AS ts_start, s.ts_end AS ts_end,
       [(s)-[h:HAS_MEMBER]->(n) WHERE NOT coalesce(h.relation_source, false)
        | {id: n.id, kind: CASE WHEN n:Message THEN 'message' ELSE 'event' END, weight: h.weight}]
       + [i IN range(0, size(s.relation_ids) - 1)
          WHERE EXISTS { ()-[r:RELATES {group_id: $group_id, id: s.relation_ids[i]}]->() }
          | {id: s.relation_ids[i], kind: 'relation', weight: s.relation_weights[i]}] AS members,
       [(s)-[:INVOLVES]->(e:Entity) | e.id] AS participants,
       [(s)-[:SHOWS]->(p:Persona) | p.id] AS persona_ids
ORDER BY ts_start, id
